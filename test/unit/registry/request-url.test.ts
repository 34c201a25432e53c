import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestUrl } from '../../../src/registry/api/routes.js';

test('requestUrl: a plain path is taken as sent, its query parsed only when read', () => {
  const u = requestUrl('/v1/services/orders/instances/orders-1');
  assert.equal(u instanceof URL, false);
  assert.equal(u.pathname, '/v1/services/orders/instances/orders-1');
  assert.deepEqual([...u.searchParams], []);
  const w = requestUrl('/v1/watch?service=a&service=b&index=7');
  assert.equal(w.pathname, '/v1/watch');
  assert.deepEqual(w.searchParams.getAll('service'), ['a', 'b']);
  assert.equal(w.searchParams.get('index'), '7');
});

test('requestUrl: paths a URL parser would normalize get the same answer as a URL', () => {
  for (const raw of ['/v1/../v1/services', '/v1/x/./y', '/v1/services/%2e%2e/instances/x', '/v1/services/%2E/x', '/v1//services', '/v1/services/a b', '/v1/services/.x']) {
    assert.equal(requestUrl(raw).pathname, new URL(raw, 'http://registry').pathname, raw);
  }
});
