import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { isOutlierFailure, OutlierDetector, type EjectionEvent, type OutlierTarget } from '../../../src/proxy/pool/outlier.js';

function target(name: string): OutlierTarget {
  return { key: `svc/${name}`, address: `${name}:80`, consecutiveFailures: 0, ejections: 0, ejectionLevel: 0, ejectedUntil: 0, returnedAt: 0 };
}
function fail(d: OutlierDetector, t: OutlierTarget, n: number, population = 10): boolean {
  let ejected = false;
  for (let i = 0; i < n; i++) ejected = d.failure(t, population) || ejected;
  return ejected;
}

test('ejects after 5 consecutive failures; a success resets the count', () => {
  const clock = new ManualClock();
  const d = new OutlierDetector('svc', clock);
  const a = target('a');
  assert.equal(fail(d, a, 4), false);
  d.success(a);
  assert.equal(a.consecutiveFailures, 0);
  assert.equal(fail(d, a, 4), false);
  assert.equal(fail(d, a, 1), true);
  assert.equal(a.ejectedUntil, clock.monotonic() + 30_000);
  assert.equal(d.ejectedCount, 1);
  assert.equal(d.nextReturn([a]), a.ejectedUntil);
});

test('ejection time grows with each repeat ejection, capped by maxEjectionMs, and the level decays while healthy', () => {
  const clock = new ManualClock();
  const events: EjectionEvent[] = [];
  const d = new OutlierDetector('svc', clock, { baseEjectionMs: 30_000, maxEjectionMs: 100_000 }, (e) => events.push(e));
  const a = target('a');
  const lengths: number[] = [];
  for (let round = 0; round < 5; round++) {
    assert.ok(fail(d, a, 5));
    lengths.push(a.ejectedUntil - clock.monotonic());
    clock.advance(a.ejectedUntil - clock.monotonic());
    assert.equal(d.expire([a]), 1);
    assert.equal(a.ejectedUntil, 0);
  }
  assert.deepEqual(lengths, [30_000, 60_000, 90_000, 100_000, 100_000]);
  assert.deepEqual(events.filter((e) => e.type === 'ejected').map((e) => e.durationMs), lengths);
  assert.equal(a.ejections, 5);
  // The level stopped growing at the cap (4: the next would be 150 s > 100 s). Two base periods of good
  // behaviour take it down by two, so the next ejection lasts (2 + 1) × 30 s.
  assert.equal(a.ejectionLevel, 4);
  clock.advance(60_000);
  assert.ok(fail(d, a, 5));
  assert.equal(a.ejectedUntil - clock.monotonic(), 90_000);
});

test('max ejection percent, at least one when there are two or more, none of a lone endpoint', () => {
  const table: Array<{ population: number; percent: number; max: number }> = [
    { population: 1, percent: 10, max: 0 },
    { population: 2, percent: 10, max: 1 },
    { population: 9, percent: 10, max: 1 },
    { population: 20, percent: 10, max: 2 },
    { population: 10, percent: 50, max: 5 },
    { population: 4, percent: 100, max: 4 },
  ];
  for (const row of table) {
    const d = new OutlierDetector('svc', new ManualClock(), { maxEjectionPercent: row.percent });
    assert.equal(d.maxEjected(row.population), row.max, JSON.stringify(row));
    const targets = Array.from({ length: row.population }, (_, i) => target(`e${i}`));
    let ejected = 0;
    for (const t of targets) if (fail(d, t, 5, row.population)) ejected++;
    assert.equal(ejected, row.max, JSON.stringify(row));
    assert.equal(d.ejectedCount, row.max);
  }
});

test('a failing endpoint held back by the cap is ejected once a slot frees', () => {
  const clock = new ManualClock();
  const d = new OutlierDetector('svc', clock);
  const [a, b] = [target('a'), target('b')];
  assert.ok(fail(d, a, 5, 2));
  assert.equal(fail(d, b, 7, 2), false, 'cap of 1 reached');
  clock.advance(30_000);
  d.expire([a, b]);
  assert.ok(fail(d, b, 1, 2), 'b is still failing: ejected on its next failure');
});

test('returns after the ejection time, not before; forget() frees a slot; detection can be off', () => {
  const clock = new ManualClock();
  const d = new OutlierDetector('svc', clock);
  const a = target('a');
  fail(d, a, 5);
  clock.advance(29_999);
  assert.equal(d.expire([a]), 0);
  clock.advance(1);
  assert.equal(d.expire([a]), 1);
  assert.equal(d.nextReturn([a]), Infinity);
  fail(d, a, 5);
  d.forget(a);
  assert.equal(d.ejectedCount, 0);
  const off = new OutlierDetector('svc', clock, { consecutiveFailures: 0 });
  assert.equal(fail(off, target('z'), 100), false);
});

test('what counts as a failure: no response or 5xx', () => {
  const table: Array<[number | undefined, boolean]> = [[undefined, true], [500, true], [503, true], [599, true], [200, false], [404, false], [429, false]];
  for (const [status, failure] of table) assert.equal(isOutlierFailure(status), failure, String(status));
});
