// Observability against a real `mesh proxy start` under a small bounded load: /metrics passes
// `promtool check metrics`, /stats delivers frames with the right counts, `mesh routes --json` is /routes,
// and `mesh routes explain` answers from the live table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { test } from 'node:test';
import type { RoutesSnapshot, StatsFrame } from '../../src/core/admin-types.js';
import { eventually, runMesh } from '../helpers/mesh.js';
import { get, getJson, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';

/** `total` requests, `concurrency` at a time; returns the status counts. */
async function load(port: number, service: string, total: number, concurrency = 8): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const r = await viaProxy(port, service, '/work');
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    }
  }));
  return counts;
}

/** Reads /stats frames until one satisfies pred (bounded by timeoutMs). */
function statsUntil(admin: string, pred: (f: StatsFrame) => boolean, timeoutMs = 8_000): Promise<StatsFrame> {
  return new Promise((resolve, reject) => {
    let last: StatsFrame | undefined;
    const req = request(`${admin}/stats`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const data = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
          buf = buf.slice(i + 2);
          if (!data) continue;
          last = JSON.parse(data.slice(6)) as StatsFrame;
          if (pred(last)) { clearTimeout(timer); req.destroy(); resolve(last); return; }
        }
      });
    });
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`no matching /stats frame in ${timeoutMs} ms; last: ${JSON.stringify(last)}`)); }, timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end();
  });
}

const strip = (s: RoutesSnapshot) => ({ ...s, services: s.services.map((svc) => ({ ...svc, endpoints: svc.endpoints.map(({ rps: _r, ewmaMs: _e, ...rest }) => rest) })) });

test('metrics, stats, routes and explain from a real proxy under load', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'orders-a');
  const b = await startBackend(t, 'orders-b');
  const u = await startBackend(t, 'users-a');
  await register(reg.url, 'orders', a);
  await register(reg.url, 'orders', b);
  await register(reg.url, 'users', u);
  const proxy = await startProxy(t, reg.url);
  await eventually(async () => (await getJson<RoutesSnapshot>(`${proxy.admin}/routes`)).services.length === 2, 10_000);

  const orders = await load(proxy.port, 'orders', 200);
  assert.equal(orders.get(200), 200);
  await u.mode(500);
  const users = await load(proxy.port, 'users', 20, 2);
  assert.equal(users.get(500), 20);

  await t.test('/metrics passes promtool and counts every request', async () => {
    const r = await get(`${proxy.admin}/metrics`);
    assert.equal(r.status, 200);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics failed:\n${lint.stdout}${lint.stderr}`);
    const sum = (re: RegExp) => [...r.body.matchAll(re)].reduce((acc, m) => acc + Number(m[1]), 0);
    assert.equal(sum(/^mesh_requests_total\{service="orders",endpoint="[^"]+",code_class="2xx"\} (\d+)$/gm), 200);
    assert.equal(sum(/^mesh_request_duration_seconds_count\{service="orders",endpoint="[^"]+"\} (\d+)$/gm), 200);
    assert.equal(sum(/^mesh_request_fates_total\{service="orders",fate="ok"\} (\d+)$/gm), 200);
    assert.ok(sum(/^mesh_requests_total\{service="users",endpoint="users-a",code_class="5xx"\} (\d+)$/gm) >= 20);
    assert.match(r.body, /^mesh_requests_in_flight\{service="orders",endpoint="orders-a"\} 0$/m);
    assert.match(r.body, /^# TYPE mesh_request_duration_seconds histogram$/m);
  });

  await t.test('/stats delivers frames with the right counts', async () => {
    const f = await statsUntil(proxy.admin, (x) => x.services.find((s) => s.service === 'orders')?.requests === 200);
    const o = f.services.find((s) => s.service === 'orders')!;
    assert.equal(o.successRate, 1);
    assert.ok(o.p50! > 0 && o.p99! >= o.p50!);
    assert.ok(o.rps > 0);
    assert.equal(o.fates.ok, 200);
    assert.deepEqual(o.endpoints.map((e) => [e.id, e.requests]), [['orders-a', 100], ['orders-b', 100]]);
    const us = f.services.find((s) => s.service === 'users')!;
    assert.equal(us.successRate, 0);
  });

  await t.test('mesh routes --json prints /routes; the table names every endpoint', async () => {
    const [cli, direct] = await Promise.all([runMesh(['routes', '--json', '--proxy', proxy.admin]), getJson<RoutesSnapshot>(`${proxy.admin}/routes`)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(strip(JSON.parse(cli.stdout) as RoutesSnapshot), strip(direct));
    const table = await runMesh(['routes'], { env: { MESH_PROXY: proxy.admin } });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^orders\s+policy round-robin/m);
    assert.match(table.stdout, new RegExp(`orders-a\\s+${a.address.replace(/\./g, '\\.')}\\s+100\\s+0\\s+-\\s+passing`));
    assert.doesNotMatch(table.stdout, /\x1b\[/); // no colour when piped
  });

  await t.test('mesh routes explain shows the eligible endpoints and their chances', async () => {
    const r = await runMesh(['routes', 'explain', 'http://orders/x', '--proxy', proxy.admin, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.service, 'orders');
    assert.equal(e.outcome.forwarded, true);
    assert.deepEqual(e.endpoints.map((x: { id: string; chance: number }) => [x.id, x.chance]), [['orders-a', 0.5], ['orders-b', 0.5]]);
    const table = await runMesh(['routes', 'explain', 'http://nosuch/', '--proxy', proxy.admin]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /503 MESH_ERR_NO_SUCH_SERVICE/);
  });

  await t.test('an unreachable proxy is one line naming the URL, exit 1', async () => {
    const r = await runMesh(['routes', '--proxy', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /http:\/\/127\.0\.0\.1:1 is unreachable/);
  });
});
