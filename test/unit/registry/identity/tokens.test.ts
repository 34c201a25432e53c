import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/core/clock.js';
import { MeshError } from '../../../../src/core/errors.js';
import { FailureLimiter } from '../../../../src/registry/identity/rate-limit.js';
import { MemoryTokenStore } from '../../../../src/registry/identity/token-store.js';
import { newToken, parseToken, useToken } from '../../../../src/registry/identity/tokens.js';

const code = (fn: () => unknown) => { try { fn(); return 'ok'; } catch (err) { return (err as MeshError).code; } };

test('useToken: the secret is checked first, then revoked, expired and used-up, in that order', () => {
  const now = 1_000_000;
  const { token, record } = newToken('web', 60_000, 1, now);
  const { secret } = parseToken(token)!;
  assert.equal(code(() => useToken(record, 'x'.repeat(43), now)), 'MESH_ERR_TOKEN_INVALID');
  assert.equal(code(() => useToken({ ...record, revokedAt: now, uses: 1 }, 'x'.repeat(43), now)), 'MESH_ERR_TOKEN_INVALID', 'a wrong secret learns nothing about the token');
  assert.equal(code(() => useToken({ ...record, revokedAt: now }, secret, now)), 'MESH_ERR_TOKEN_REVOKED');
  assert.equal(code(() => useToken(record, secret, now + 60_000)), 'MESH_ERR_TOKEN_INVALID');
  assert.equal(useToken(record, secret, now).uses, 1);
  assert.equal(code(() => useToken({ ...record, uses: 1 }, secret, now)), 'MESH_ERR_TOKEN_USED_UP');
  assert.equal(code(() => useToken(undefined, secret, now)), 'MESH_ERR_TOKEN_INVALID');
});

test('parseToken accepts only <12 hex>.<43 base64url>', () => {
  assert.ok(parseToken(newToken('web', 1000, null, 0).token));
  for (const bad of ['', 'abc', '0123456789ab', '0123456789ab.short', `0123456789AB.${'a'.repeat(43)}`, 42, null]) assert.equal(parseToken(bad), null, String(bad));
});

test('MemoryTokenStore.update spends a single-use token once under concurrent callers', async () => {
  const store = new MemoryTokenStore();
  const { token, record } = newToken('web', 60_000, 1, 0);
  await store.create(record);
  const { secret } = parseToken(token)!;
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => store.update(record.id, (cur) => useToken(cur, secret, 1))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((await store.get(record.id))!.uses, 1);
});

test('FailureLimiter: the 11th attempt within the window is refused, and the window ends', () => {
  const clock = new ManualClock();
  const limiter = new FailureLimiter({ maxFailures: 10, windowMs: 60_000, clock });
  for (let i = 0; i < 10; i++) { limiter.check('a'); limiter.fail('a'); }
  assert.equal(code(() => limiter.check('a')), 'MESH_ERR_RATE_LIMITED');
  assert.equal(code(() => limiter.check('b')), 'ok', 'per address');
  clock.advance(60_000);
  assert.equal(code(() => limiter.check('a')), 'ok');
});
