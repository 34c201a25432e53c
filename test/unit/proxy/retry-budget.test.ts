import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { RetryBudget } from '../../../src/proxy/attempt/retry-budget.js';

function spend(b: RetryBudget, max: number): number {
  let n = 0;
  while (n < max && b.tryRetry()) n++;
  return n;
}

test('with no traffic only the floor is available: minPerSecond × window', () => {
  const b = new RetryBudget(new ManualClock(), { minPerSecond: 10, windowMs: 10_000, ratio: 0.2 });
  assert.equal(spend(b, 1000), 100);
  assert.equal(b.tryRetry(), false);
  assert.equal(b.remaining(), 0);
});

test('retries ≤ ratio × requests in the window plus the floor', () => {
  const table: Array<{ ratio: number; minPerSecond: number; requests: number; allowed: number }> = [
    { ratio: 0.2, minPerSecond: 0, requests: 1000, allowed: 200 },
    { ratio: 0.2, minPerSecond: 10, requests: 1000, allowed: 300 },
    { ratio: 0.5, minPerSecond: 0, requests: 7, allowed: 3 },
    { ratio: 0, minPerSecond: 1, requests: 500, allowed: 10 },
  ];
  for (const row of table) {
    const b = new RetryBudget(new ManualClock(), { ratio: row.ratio, minPerSecond: row.minPerSecond, windowMs: 10_000 });
    for (let i = 0; i < row.requests; i++) b.recordRequest();
    assert.equal(spend(b, 10_000), row.allowed, JSON.stringify(row));
  }
});

test('during an outage retries stay near 20% of requests: the budget refills only with traffic', () => {
  const clock = new ManualClock();
  const b = new RetryBudget(clock, { minPerSecond: 0 });
  let requests = 0;
  let retries = 0;
  // 100 requests/s for 60 s, every one of them fails and asks for a retry.
  for (let s = 0; s < 60; s++) {
    for (let i = 0; i < 100; i++) { b.recordRequest(); requests++; if (b.tryRetry()) retries++; }
    clock.advance(1000);
  }
  assert.ok(retries / requests <= 0.2 + 1e-9, `${retries}/${requests}`);
  assert.ok(retries / requests >= 0.19, `${retries}/${requests}`);
});

test('the window slides: old requests and retries stop counting after windowMs', () => {
  const clock = new ManualClock();
  const b = new RetryBudget(clock, { ratio: 0.2, minPerSecond: 0, windowMs: 10_000 });
  for (let i = 0; i < 100; i++) b.recordRequest();
  assert.equal(spend(b, 1000), 20);
  clock.advance(5_000);
  assert.equal(b.tryRetry(), false, 'still inside the window');
  clock.advance(5_000);
  assert.equal(b.allowed(), 0, 'the requests have left the window');
  for (let i = 0; i < 50; i++) b.recordRequest();
  assert.equal(spend(b, 1000), 10, 'old retries no longer count either');
  clock.advance(3_600_000); // a long quiet spell clears everything
  assert.equal(b.allowed(), 0);
});
