import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickFailureMessage } from '../../../src/proxy/errors-response.js';

test('a failed pick says why in words, not as a cause code', () => {
  assert.equal(pickFailureMessage('orders', 'no-healthy-endpoint'), 'service "orders" has no healthy endpoint');
  assert.equal(pickFailureMessage('orders', 'no-such-service'), 'service "orders" has no registered instances (it left the registry)');
  assert.doesNotMatch(pickFailureMessage('orders', 'no-such-service'), /no-such-service/);
});
