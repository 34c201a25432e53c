// --workers 2 (node:cluster sharing one listener), the access log, and trace context on forwarded requests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

test('a crashed worker is restarted; SIGTERM right after a crash stops the proxy without starting another', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'c-a');
  await register(reg.url, 'orders', a);
  const proxy = await startProxy(t, reg.url, ['--workers', '2']);
  const workers = (): number[] => {
    try {
      return execFileSync('pgrep', ['-P', String(proxy.daemon.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    } catch {
      return []; // pgrep exits 1 when there are none
    }
  };
  await eventually(() => workers().length === 2, 10_000, 50);

  const [first] = workers();
  process.kill(first!, 'SIGKILL');
  await proxy.daemon.waitFor(new RegExp(`worker \\d \\(pid ${first}\\) exited \\(SIGKILL\\); starting a new one`));
  // Listening, not merely forked: killing the other worker before the replacement listens would close the shared
  // socket (ECONNREFUSED) — the test once did exactly that on a loaded machine.
  await proxy.daemon.waitFor(/worker \d \(pid \d+\) is listening again/);
  await eventually(() => { const w = workers(); return w.length === 2 && !w.includes(first!); }, 10_000, 50);
  for (let i = 0; i < 10; i++) assert.equal((await viaProxy(proxy.port, 'orders', `/r/${i}`, { headers: { connection: 'close' } })).status, 200);

  // The restart is scheduled half a second after the crash. SIGTERM inside that window, while the other worker
  // drains a slow request for longer than that, must not fork a worker nobody stops (it kept the primary alive).
  let arrived!: () => void;
  const arrival = new Promise<void>((r) => { arrived = r; });
  const slow = createServer((req, res) => {
    if (req.url !== '/drained') { res.end('ok'); return; }
    arrived();
    setTimeout(() => res.end('slow done'), 1_500);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  t.after(() => { slow.closeAllConnections(); slow.close(); });
  await register(reg.url, 'slow', { address: `127.0.0.1:${(slow.address() as AddressInfo).port}`, name: 'slow-1' });
  await eventually(async () => (await viaProxy(proxy.port, 'slow', '/warm', { headers: { connection: 'close' } })).status === 200, 10_000, 100);
  const [second] = workers();
  process.kill(second!, 'SIGKILL');
  await proxy.daemon.waitFor(new RegExp(`worker \\d \\(pid ${second}\\) exited`));
  const inFlight = viaProxy(proxy.port, 'slow', '/drained', { headers: { connection: 'close' } });
  await arrival;
  proxy.daemon.child.kill('SIGTERM');
  assert.equal((await inFlight).body, 'slow done');
  // The drain outlasted the half-second restart delay: no worker but the draining one may have been started.
  const survivor = workers().filter((p) => p !== second);
  assert.ok(survivor.length <= 1, `a worker was started during shutdown: children ${survivor.join(', ')}\n${proxy.daemon.stderr()}`);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([proxy.daemon.exited, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), 8_000); })]);
  clearTimeout(timer);
  assert.equal(exit?.code, 0, `the primary did not exit 0 after SIGTERM:\n${proxy.daemon.stderr()}`);
  assert.match(proxy.daemon.stderr(), /mesh proxy: stopped/);
});
