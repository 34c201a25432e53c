// --workers 2 (node:cluster sharing one listener), the access log, and trace context on forwarded requests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { get, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';

test('two workers share the listener; access log and trace context; SIGTERM stops both', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'c-a');
  await register(reg.url, 'orders', a);
  const dir = tempDir();
  t.after(dir.cleanup);
  const logFile = join(dir.path, 'access.log');
  const proxy = await startProxy(t, reg.url, ['--workers', '2', '--access-log', logFile]);
  assert.match(proxy.daemon.stderr(), /2 workers/);

  for (let i = 0; i < 40; i++) {
    const r = await viaProxy(proxy.port, 'orders', `/n/${i}`, { headers: { connection: 'close', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body).headers as Record<string, string>;
    assert.match(seen.traceparent!, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.notEqual(seen.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.match(seen['x-request-id']!, /^[0-9a-f-]{36}$/);
  }
  // Worker 1's /metrics adds the other worker's counts (shipped once a second).
  await eventually(async () => {
    const m = (await get(`${proxy.admin}/metrics`)).body;
    const total = [...m.matchAll(/^mesh_requests_total\{[^}]*service="orders"[^}]*\} (\d+)/gm)].reduce((s, x) => s + Number(x[1]), 0);
    return total >= 40;
  }, 10_000, 200);
  await eventually(() => readFileSync(logFile, 'utf8').trim().split('\n').length >= 40, 5_000);
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.authority, 'orders');
  assert.equal(lines[0]!.status, 200);
  assert.equal(lines[0]!.trace_id ?? lines[0]!.traceId, '0af7651916cd43dd8448eb211c80319c');
  const exit = await proxy.daemon.stop('SIGTERM');
  assert.equal(exit.code, 0, proxy.daemon.stderr());
  assert.match(proxy.daemon.stderr(), /mesh proxy: stopped/);
});
