import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { bearerTokenAuthorizer, isLoopbackHost, tokensEqual } from '../../../src/registry/api/auth.js';
import { registrySecurity } from '../../../src/cli/actions/registry-security.js';

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

test('bearer tokens: exact match only', () => {
  const auth = bearerTokenAuthorizer('abc123');
  assert.doesNotThrow(() => auth(req('Bearer abc123')));
  assert.doesNotThrow(() => auth(req('bearer  abc123')));
  for (const h of [undefined, '', 'Bearer', 'Bearer abc12', 'Bearer abc1234', 'Basic abc123', 'Bearer abc123 x', 'abc123']) {
    assert.throws(() => auth(req(h)), (err: Error & { code?: string; status?: number }) => err.code === 'MESH_ERR_UNAUTHORIZED' && err.status === 401, String(h));
  }
  assert.equal(tokensEqual('a', 'a'), true);
  assert.equal(tokensEqual('a', 'ab'), false, 'different lengths compare without throwing');
});

test('loopback detection and the open-API warning', () => {
  assert.deepEqual(['127.0.0.1', '127.9.9.9', '::1', 'localhost', '0.0.0.0', '10.0.0.1', '::'].map(isLoopbackHost), [true, true, true, true, false, false, false]);
  const lines: string[] = [];
  registrySecurity({}, '0.0.0.0:8500', {}, (l) => lines.push(l));
  assert.match(lines[0]!, /WARNING: listening on 0.0.0.0:8500 without a token/);
  lines.length = 0;
  registrySecurity({}, '0.0.0.0:8500', { MESH_TOKEN: 't' }, (l) => lines.push(l));
  assert.match(lines[0]!, /without TLS: the token crosses the network in clear text/);
  lines.length = 0;
  const sec = registrySecurity({}, '127.0.0.1:8500', { MESH_TOKEN: 't' }, (l) => lines.push(l));
  assert.deepEqual(lines, []);
  assert.equal(typeof sec.authorize, 'function');
});
