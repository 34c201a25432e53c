// Faults: request validation (every fault expires, one action, capped duration) and the proxy's table (live
// faults only, route prefix on a segment boundary, the percent as the dice decide).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultFromRequest, FaultTable, MAX_FAULT_MS } from '../../../src/config/faults.js';
import { ValidationError } from '../../../src/core/errors.js';

const field = (body: unknown) => {
  try { faultFromRequest(body, 'f-1', 1000); } catch (err) { assert.ok(err instanceof ValidationError); return err.field; }
  return assert.fail('expected a refusal');
};

test('a fault request needs one action, a percent and an expiry within the cap', () => {
  assert.equal(field({ service: 'web', abort: 503, percent: 10 }), 'forMs');
  assert.equal(field({ service: 'web', abort: 503, reset: true, percent: 10, forMs: 1000 }), 'action');
  assert.equal(field({ service: 'web', abort: 200, percent: 10, forMs: 1000 }), 'abort');
  assert.equal(field({ service: 'web', abort: 503, percent: 0, forMs: 1000 }), 'percent');
  assert.equal(field({ service: 'web', abort: 503, percent: 10, forMs: MAX_FAULT_MS + 1 }), 'forMs');
  assert.equal(field({ service: 'web', abort: 503, percent: 10, forMs: 1000, to: 'x' }), 'to');
  assert.deepEqual(faultFromRequest({ service: 'web', route: '/a//b', delayMs: 200, percent: 50, forMs: MAX_FAULT_MS + 1, allowLong: true }, 'f-1', 1000),
    { id: 'f-1', service: 'web', route: '/a/b', action: { delayMs: 200 }, percent: 50, createdAt: 1000, expiresAt: 1000 + MAX_FAULT_MS + 1 });
});

test('the table picks live faults on their route by the dice', () => {
  const t = new FaultTable([
    faultFromRequest({ service: 'web', route: '/api', abort: 503, percent: 10, forMs: 1000 }, 'f-a', 0),
    faultFromRequest({ service: 'web', reset: true, percent: 100, forMs: 500 }, 'f-b', 0),
  ]);
  assert.equal(t.pick('web', '/api/x', 100, () => 0.05)?.id, 'f-a');
  assert.equal(t.pick('web', '/api/x', 100, () => 0.5)?.id, 'f-b', 'the first missed its dice, the second hits');
  assert.equal(t.pick('web', '/apis', 600, () => 0.05), undefined, 'not under /api, and f-b expired at 500');
  assert.equal(t.pick('web', '/api', 999, () => 0.05)?.id, 'f-a');
  assert.equal(t.pick('web', '/api', 1000, () => 0), undefined, 'expired at its deadline');
  assert.equal(t.pick('orders', '/', 0, () => 0), undefined);
});

test('a --from fault applies only at proxies that call as that service', () => {
  const t = new FaultTable([faultFromRequest({ service: 'orders', from: 'web', abort: 503, percent: 100, forMs: 1000 }, 'f-w', 0)]);
  assert.equal(t.pick('orders', '/', 10, () => 0, 'web')?.id, 'f-w');
  assert.equal(t.pick('orders', '/', 10, () => 0, 'billing'), undefined);
  assert.equal(t.pick('orders', '/', 10, () => 0, undefined), undefined, 'a proxy without an identity never applies it');
  assert.equal(field({ service: 'orders', from: 'Web!', abort: 503, percent: 10, forMs: 1000 }), 'from');
});
