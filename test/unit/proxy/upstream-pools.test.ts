import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamPools } from '../../../src/proxy/upstream/pools.js';

test('a per-service connect timeout gets its own pool; the default shares one per address', async (t) => {
  const pools = new UpstreamPools(2_000);
  t.after(() => pools.close());
  const shared = pools.get('127.0.0.1:9', 'orders');
  assert.equal(pools.get('127.0.0.1:9', 'users', undefined, 2_000), shared, 'same address, default timeout: one pool');
  const quick = pools.get('127.0.0.1:9', 'payments', undefined, 250);
  assert.notEqual(quick, shared, 'another connect timeout cannot share a pool (undici fixes it per pool)');
  assert.equal(pools.get('127.0.0.1:9', 'billing', undefined, 250), quick);
  // Leaving the table closes every pool of the address, whatever its timeout.
  pools.retain(new Set());
  assert.notEqual(pools.get('127.0.0.1:9', 'orders'), shared);
  assert.notEqual(pools.get('127.0.0.1:9', 'payments', undefined, 250), quick);
});
