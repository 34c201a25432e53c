import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renewalTime, retryDelay, RETRY_MAX_MS, RETRY_MIN_MS } from '../../../../src/proxy/identity/schedule.js';

test('renewalTime: between 50% and 70% of the lifetime left at receipt, jittered by the random source', () => {
  assert.equal(renewalTime(1000, 11_000, () => 0), 6000);
  assert.ok(Math.abs(renewalTime(1000, 11_000, () => 0.999999) - 8000) < 1);
  assert.equal(renewalTime(1000, 11_000, () => 0.5), 7000);
  assert.equal(renewalTime(5000, 1000, () => 0.5), 5000, 'an already expired certificate renews now');
});

test('retryDelay: exponential from the minimum, capped at the maximum and at a quarter of the time left', () => {
  const mid = () => 0.5; // no jitter
  assert.equal(retryDelay(0, 0, 3_600_000, mid), RETRY_MIN_MS);
  assert.equal(retryDelay(3, 0, 3_600_000, mid), RETRY_MIN_MS * 8);
  assert.equal(retryDelay(20, 0, 3_600_000, mid), RETRY_MAX_MS);
  assert.equal(retryDelay(20, 0, 8_000, mid), 2_000, 'several tries fit before expiry');
  assert.equal(retryDelay(20, 10_000, 8_000, mid), RETRY_MAX_MS / 6, 'after expiry: steady retries');
  assert.ok(retryDelay(0, 0, 3_600_000, () => 0) >= RETRY_MIN_MS * 0.8);
});
