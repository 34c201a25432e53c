import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimiter } from '../../../src/proxy/attempt/concurrency.js';

test('acquire refuses past the limit and succeeds again after a release', () => {
  const l = new ConcurrencyLimiter(2);
  assert.deepEqual([l.acquire(), l.acquire(), l.acquire()], [true, true, false]);
  assert.equal(l.inFlight, 2);
  assert.equal(l.rejected, 1);
  l.release();
  assert.equal(l.acquire(), true);
  assert.equal(l.acquire(), false);
  assert.equal(l.limit, 2);
});

test('no limit (undefined or 0) never refuses; release never goes below zero', () => {
  for (const max of [undefined, 0]) {
    const l = new ConcurrencyLimiter(max);
    for (let i = 0; i < 10_000; i++) assert.equal(l.acquire(), true);
    assert.equal(l.limit, undefined);
  }
  const l = new ConcurrencyLimiter(1);
  l.release();
  assert.equal(l.inFlight, 0);
  assert.equal(l.acquire(), true);
});

test('lowering the limit keeps in-flight requests and refuses new ones until below it', () => {
  const l = new ConcurrencyLimiter(5);
  for (let i = 0; i < 5; i++) l.acquire();
  l.setLimit(2);
  assert.equal(l.acquire(), false);
  l.release(); l.release(); l.release();
  assert.equal(l.inFlight, 2);
  assert.equal(l.acquire(), false);
  l.release();
  assert.equal(l.acquire(), true);
});
