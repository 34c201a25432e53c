import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostPort, validateInstanceSpec, validateServiceName, validateWeight, defaultInstanceId } from '../../../src/core/validate.js';
import { parseDuration, formatDuration } from '../../../src/core/duration.js';
import { ValidationError } from '../../../src/core/errors.js';

test('service names are DNS labels', () => {
  for (const ok of ['orders', 'a', 'a-b-1', 'x'.repeat(63)]) assert.equal(validateServiceName(ok), ok);
  for (const bad of ['', 'Orders', '-a', 'a-', 'a_b', 'x'.repeat(64), 'a.b']) {
    assert.throws(() => validateServiceName(bad), ValidationError, bad);
  }
});

test('addresses: IPv4, [IPv6] and host names with a port', () => {
  const table: Array<[string, string, number]> = [
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['[::1]:80', '::1', 80],
    ['orders.internal:443', 'orders.internal', 443],
    ['localhost:1', 'localhost', 1],
  ];
  for (const [text, host, port] of table) assert.deepEqual(parseHostPort(text), { host, port });
  for (const bad of ['127.0.0.1', ':80', '::1:80', '[::1]80', '1.2.3.4:0', '1.2.3.4:65536', 'a b:80', '999.1.1.1:80', '[zz]:80', 'host:http']) {
    assert.throws(() => parseHostPort(bad), ValidationError, bad);
  }
});

test('durations', () => {
  const table: Array<[string, number]> = [['10s', 10_000], ['250ms', 250], ['1m30s', 90_000], ['2h', 7_200_000], ['5', 5000], ['1.5s', 1500]];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
  for (const bad of ['', 's', '10x', '-1s', '1 s', 'ten']) assert.throws(() => parseDuration(bad), ValidationError, bad);
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(250), '250ms');
});

test('weights are 1..1000', () => {
  assert.equal(validateWeight(1), 1);
  assert.equal(validateWeight(1000), 1000);
  for (const bad of [0, 1001, 1.5, '12a', -3, null]) assert.throws(() => validateWeight(bad), ValidationError);
});

test('instance specs: defaults, unknown fields refused, one check kind', () => {
  const spec = validateInstanceSpec({ address: '127.0.0.1:9000' }, 'orders');
  assert.deepEqual(spec, { service: 'orders', id: 'orders-127.0.0.1-9000', address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {} });
  assert.equal(defaultInstanceId('api', '[::1]:80'), 'api-1-80');
  assert.throws(() => validateInstanceSpec({ address: '127.0.0.1:9000', wieght: 3 }, 'orders'), /unknown field "wieght"/);
  assert.throws(() => validateInstanceSpec({ address: '127.0.0.1:9000', check: { ttlMs: 1000, tcp: '127.0.0.1:1' } }, 'orders'), /choose one/);
  assert.throws(() => validateInstanceSpec({ address: '127.0.0.1:9000', weight: '100' }, 'orders'), ValidationError);
  const withCheck = validateInstanceSpec({ address: '127.0.0.1:9000', check: { http: 'http://127.0.0.1:9000/health' } }, 'orders');
  assert.deepEqual(withCheck.check, { http: 'http://127.0.0.1:9000/health', intervalMs: 10_000, timeoutMs: 2_000, deregisterAfterMs: 60_000 });
});
