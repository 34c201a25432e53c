// The proxy's own error answers, each with its status, JSON body and x-mesh-error; and retries that turn an
// upstream 503 into a success on another endpoint.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, freePort, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { getJson, instanceOf, register, startBackend, startProxy, viaProxy, type Reply } from '../helpers/proxy.js';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';

function assertMeshError(r: Reply, status: number, cause: string, code: string): void {
  assert.equal(r.status, status, r.body);
  assert.equal(r.headers['x-mesh-error'], cause);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const body = JSON.parse(r.body) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
}

test('each mesh error status, and a 503 retried elsewhere', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir();
  t.after(dir.cleanup);
  const config = join(dir.path, 'mesh.json');
  writeFileSync(config, JSON.stringify({ services: { slow: { timeout: '400ms' }, limited: { maxConcurrent: 2 } } }));
  const slow = await startBackend(t, 'slow-1');
  const lim = await startBackend(t, 'lim-1');
  const ok = await startBackend(t, 'ok-1');
  const bad = await startBackend(t, 'bad-1');
  const deadPort = await freePort();
  await register(reg.url, 'slow', slow);
  await register(reg.url, 'limited', lim);
  await register(reg.url, 'gone', { name: 'gone-1', address: `127.0.0.1:${deadPort}` });
  await register(reg.url, 'sick', { name: 'sick-1', address: `127.0.0.1:${deadPort}` }, ['--check-tcp', `127.0.0.1:${deadPort}`, '--interval', '200ms', '--timeout', '100ms']);
  await register(reg.url, 'flaky', ok);
  await register(reg.url, 'flaky', bad);
  const proxy = await startProxy(t, reg.url, ['--config', config]);

  await t.test('unknown service → 503 no-such-service', async () => {
    assertMeshError(await viaProxy(proxy.port, 'nope', '/'), 503, 'no-such-service', 'MESH_ERR_NO_SUCH_SERVICE');
  });

  await t.test('no healthy endpoint → 503 no-healthy-endpoint', async () => {
    await eventually(async () => (await viaProxy(proxy.port, 'sick', '/')).headers['x-mesh-error'] === 'no-healthy-endpoint', 5_000);
    assertMeshError(await viaProxy(proxy.port, 'sick', '/', { via: 'host' }), 503, 'no-healthy-endpoint', 'MESH_ERR_NO_HEALTHY_ENDPOINT');
  });

  await t.test('upstream timeout → 504 upstream-timeout', async () => {
    assertMeshError(await viaProxy(proxy.port, 'slow', '/slow?ms=3000'), 504, 'upstream-timeout', 'MESH_ERR_UPSTREAM_TIMEOUT');
  });

  await t.test('connect failure after retries → 502 upstream-connect', async () => {
    assertMeshError(await viaProxy(proxy.port, 'gone', '/'), 502, 'upstream-connect', 'MESH_ERR_UPSTREAM_CONNECT');
  });

  await t.test('past maxConcurrent → 503 circuit-open at once', async () => {
    const inFlight = [viaProxy(proxy.port, 'limited', '/slow?ms=1500'), viaProxy(proxy.port, 'limited', '/slow?ms=1500')];
    await eventually(async () => {
      const snap = await getJson<RoutesSnapshot>(`${proxy.admin}/routes`);
      return snap.services.find((s) => s.service === 'limited')?.inFlight === 2;
    }, 5_000);
    const t0 = performance.now();
    const r = await viaProxy(proxy.port, 'limited', '/');
    assertMeshError(r, 503, 'circuit-open', 'MESH_ERR_CIRCUIT_OPEN');
    assert.ok(performance.now() - t0 < 1_000, 'the refusal waited for a slot instead of answering at once');
    for (const p of await Promise.all(inFlight)) assert.equal(p.status, 200);
  });

  await t.test('an upstream 503 is retried on another endpoint', async () => {
    await bad.mode(503);
    for (let i = 0; i < 20; i++) {
      const r = await viaProxy(proxy.port, 'flaky', '/');
      assert.equal(r.status, 200, r.body);
      assert.equal(instanceOf(r), 'ok-1');
    }
  });
});
