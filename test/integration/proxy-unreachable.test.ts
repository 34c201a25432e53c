// Primaries killed with SIGKILL and never health-checked: the proxy finds out from refused connections alone.
// Two priority-0 instances and one priority-1 backup; clients keep sending GETs through the kill, then a
// paced series (10 req/s) and a burst. Every request that starts after the kill must succeed on the backup;
// only requests in flight at the kill may fail. Run over HTTP/1.1, with --workers 2 (each worker finds out on
// its own) and over h2c. Also: weights honoured by the default policy, and the unreachable state in /stats and
// /metrics (merged across workers).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import { test } from 'node:test';
import type { RoutesSnapshot, StatsFrame } from '../../src/core/admin-types.js';
import { h2Request, h2Session, startH2Backend } from '../helpers/h2-backend.js';
import { eventually } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { get, getJson, instanceOf, primariesAndBackup, register, startBackend, startProxy, viaProxy, type TestProxy } from '../helpers/proxy.js';

type After = { after(fn: () => Promise<void> | void): void };

/** One request's fate as the client saw it. */
interface Outcome { startedAt: number; endedAt: number; status: number; instance: string; error?: string }

type Send = () => Promise<{ status: number; instance: string }>;

async function timed(send: Send): Promise<Outcome> {
  const startedAt = performance.now();
  try {
    const r = await send();
    return { startedAt, endedAt: performance.now(), ...r };
  } catch (err) {
    return { startedAt, endedAt: performance.now(), status: 0, instance: '', error: (err as Error).message };
  }
}

/** `count` requests started every `intervalMs` (not waiting for earlier ones), as a steady client sends. */
async function paced(send: Send, count: number, intervalMs: number): Promise<Outcome[]> {
  const all: Array<Promise<Outcome>> = [];
  for (let i = 0; i < count; i++) {
    all.push(timed(send));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Promise.all(all);
}

/** `count` requests with `concurrency` in flight at a time. */
async function burst(send: Send, count: number, concurrency: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const worker = async () => { while (next < count) { next++; out.push(await timed(send)); } };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

function describe(failed: Outcome[]): string {
  return failed.slice(0, 3).map((o) => o.error ?? `${o.status} from ${o.instance || 'the proxy'}`).join('; ');
}

interface Scenario {
  /** Sends one GET for the service through the proxy. */
  send: Send;
  killPrimaries(): Promise<void>;
}

/**
 * The scenario: warm up until both primaries answer, kill both while a steady client (10 req/s)
 * keeps going, then 30 paced requests and a burst of 200. Asserts no failures among requests that started
 * after the kill, and that the backup served them.
 */
async function primariesKilled(t: { diagnostic(message: string): void }, s: Scenario): Promise<void> {
  await eventually(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await s.send()).instance);
    return seen.has('p1') && seen.has('p2') && !seen.has('backup');
  }, 10_000);

  const during = paced(s.send, 20, 100);
  await new Promise((r) => setTimeout(r, 500));
  const killStart = performance.now();
  await s.killPrimaries();
  const killEnd = performance.now();
  const steady = await paced(s.send, 30, 100);
  const rush = await burst(s.send, 200, 20);
  const through = await during;

  // In flight at the kill: started before it was over and ended after it began. Those may fail; none other.
  const atKill = (o: Outcome) => o.startedAt < killEnd && o.endedAt > killStart;
  const failedAfter = (list: Outcome[]) => list.filter((o) => !atKill(o) && o.status !== 200);
  const counts = `paced ${failedAfter(steady).length}/30, burst ${failedAfter(rush).length}/200, during ${failedAfter(through).length}/20`;
  assert.equal(failedAfter(steady).length + failedAfter(rush).length + failedAfter(through).length, 0,
    `client errors after the kill (${counts}): ${describe([...failedAfter(steady), ...failedAfter(rush), ...failedAfter(through)])}`);
  const after = [...steady, ...rush].filter((o) => o.startedAt > killEnd);
  assert.ok(after.every((o) => o.instance === 'backup'), `a dead primary answered: ${after.map((o) => o.instance).join(',')}`);
  // For the record, not asserted (tests do not time the machine): how soon the backup answered, and what
  // happened to the requests in flight at the kill.
  const all = [...through, ...steady, ...rush];
  const firstBackup = Math.min(...all.filter((o) => o.instance === 'backup').map((o) => o.endedAt));
  const inFlight = all.filter(atKill);
  t.diagnostic(`first backup answer ${Math.round(firstBackup - killStart)} ms after the kill began; ${inFlight.length} requests in flight at the kill, ${inFlight.filter((o) => o.status !== 200).length} of them failed`);
}

/** /routes says why the primaries take no traffic, and that the backup tier takes it all. */
async function primariesShownUnreachable(admin: string): Promise<void> {
  const routes = await getJson<RoutesSnapshot>(`${admin}/routes`);
  const orders = routes.services.find((s) => s.service === 'orders')!;
  for (const id of ['p1', 'p2']) {
    const e = orders.endpoints.find((x) => x.id === id)!;
    assert.equal(e.excludedBecause, 'unreachable', JSON.stringify(e));
    assert.equal(typeof e.unreachableSince, 'number');
  }
  assert.equal(orders.activeTier, 1);
  assert.deepEqual(orders.tiers, [{ priority: 0, health: 0, load: 0 }, { priority: 1, health: 100, load: 100 }]);
}

/** The three instances of primariesAndBackup, and a way to kill both primaries at once. */
async function threeInstances(t: After, extra: string[]): Promise<{ proxy: TestProxy; kill: () => Promise<void> }> {
  const { proxy, p1, p2 } = await primariesAndBackup(t, extra);
  return { proxy, kill: async () => { await Promise.all([p1.kill('SIGKILL'), p2.kill('SIGKILL')]); } };
}

const http1: (port: number) => Send = (port) => async () => {
  const r = await viaProxy(port, 'orders', '/', { timeoutMs: 10_000 });
  return { status: r.status, instance: instanceOf(r) };
};

test('both primaries killed without health checks: the backup takes every request after the kill', { timeout: 90_000 }, async (t) => {
  const { proxy, kill } = await threeInstances(t, []);
  await primariesKilled(t, { send: http1(proxy.port), killPrimaries: kill });
  await primariesShownUnreachable(proxy.admin);
});

test('both primaries killed, --workers 2: each worker moves to the backup with no client errors', { timeout: 90_000 }, async (t) => {
  const { proxy, kill } = await threeInstances(t, ['--workers', '2']);
  await primariesKilled(t, { send: http1(proxy.port), killPrimaries: kill });
});

test('both primaries killed, h2c: the backup takes every stream after the kill', { timeout: 90_000 }, async (t) => {
  const reg = await startRegistry(t);
  const p1 = await startH2Backend(t, 'p1');
  const p2 = await startH2Backend(t, 'p2');
  const bk = await startH2Backend(t, 'backup');
  await register(reg.url, 'orders', { name: 'p1', address: p1.h2 });
  await register(reg.url, 'orders', { name: 'p2', address: p2.h2 });
  await register(reg.url, 'orders', { name: 'backup', address: bk.h2 }, ['--priority', '1']);
  const proxy = await startProxy(t, reg.url);
  // A few client connections, as a real client pool would have.
  const sessions: ClientHttp2Session[] = Array.from({ length: 4 }, () => h2Session(t, proxy.port));
  let turn = 0;
  const send: Send = async () => {
    const r = await h2Request(sessions[turn++ % sessions.length]!, 'orders', '/');
    return { status: r.status, instance: String(r.headers['x-instance'] ?? '') };
  };
  await primariesKilled(t, { send, killPrimaries: async () => { await Promise.all([p1.kill(), p2.kill()]); } });
  await primariesShownUnreachable(proxy.admin);
});

test('the default policy honours registered weights: 300 vs 100 splits 3:1 without a config file', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const heavy = await startBackend(t, 'heavy');
  const light = await startBackend(t, 'light');
  await register(reg.url, 'orders', heavy, ['--weight', '300']);
  await register(reg.url, 'orders', light, ['--weight', '100']);
  const proxy = await startProxy(t, reg.url);
  await eventually(async () => {
    const routes = await getJson<RoutesSnapshot>(`${proxy.admin}/routes`);
    return routes.services.find((s) => s.service === 'orders')?.endpoints.filter((e) => e.eligible).length === 2;
  }, 10_000);
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const r = await viaProxy(proxy.port, 'orders', '/');
    assert.equal(r.status, 200);
    counts.set(instanceOf(r), (counts.get(instanceOf(r)) ?? 0) + 1);
  }
  // Smooth weighted round robin is exact over every whole cycle of sum(weights) picks.
  assert.deepEqual(Object.fromEntries(counts), { heavy: 300, light: 100 });
});

/** The first frame of the proxy's /stats stream (sent at once on connect). */
function firstStatsFrame(admin: string): Promise<StatsFrame> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${admin}/stats`, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const end = buf.indexOf('\n\n');
        if (end < 0) return;
        const data = buf.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
        req.destroy();
        if (data === undefined) reject(new Error(`no data line in ${buf}`)); else resolve(JSON.parse(data.slice(6)) as StatsFrame);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one `orders` endpoint's sample of `name` in the proxy's /metrics (undefined when absent). */
async function endpointSample(admin: string, name: string, endpoint: string): Promise<number | undefined> {
  const text = (await get(`${admin}/metrics`)).body;
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool check metrics failed:\n${lint.stdout}${lint.stderr}`);
  const m = new RegExp(`^${name}\\{service="orders",endpoint="${endpoint}"\\} (\\d+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

test('a killed endpoint is unreachable in /stats and /metrics (one process and --workers 2), and clears when it is back', { timeout: 90_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'orders-a');
  const b = await startBackend(t, 'orders-b');
  await register(reg.url, 'orders', a);
  await register(reg.url, 'orders', b);
  const single = await startProxy(t, reg.url);
  const workers = await startProxy(t, reg.url, ['--workers', '2']);
  for (const p of [single, workers]) await eventually(async () => (await viaProxy(p.port, 'orders', '/warm')).status === 200, 10_000);
  for (const p of [single, workers]) assert.equal(await endpointSample(p.admin, 'mesh_endpoint_unreachable', 'orders-b'), 0);

  const killedAt = Date.now();
  await b.kill('SIGKILL');
  for (const p of [single, workers]) {
    // Requests keep succeeding (refused connects are retried on orders-a); the first refused one marks orders-b,
    // in whichever worker took it — the admin worker then shows it from its peer's state.
    await eventually(async () => {
      for (let i = 0; i < 4; i++) assert.equal((await viaProxy(p.port, 'orders', '/after-kill')).status, 200);
      return await endpointSample(p.admin, 'mesh_endpoint_unreachable', 'orders-b') === 1;
    }, 15_000, 100);
    assert.ok((await endpointSample(p.admin, 'mesh_unreachable_total', 'orders-b'))! >= 1);
    assert.equal(await endpointSample(p.admin, 'mesh_endpoint_unreachable', 'orders-a'), 0);
    const frame = await firstStatsFrame(p.admin);
    const eps = frame.services.find((s) => s.service === 'orders')!.endpoints;
    const since = eps.find((e) => e.id === 'orders-b')!.unreachableSince;
    assert.ok(since !== undefined && since >= killedAt - 1_000 && since <= Date.now(), `unreachableSince ${since}`);
    assert.equal(eps.find((e) => e.id === 'orders-a')!.unreachableSince, undefined);
  }

  // Back on the same port: the background probe connects, and the state clears everywhere (the count stays).
  await startBackend(t, 'orders-b', b.port);
  for (const p of [single, workers]) {
    await eventually(async () => await endpointSample(p.admin, 'mesh_endpoint_unreachable', 'orders-b') === 0, 20_000, 200);
    assert.ok((await endpointSample(p.admin, 'mesh_unreachable_total', 'orders-b'))! >= 1);
    const frame = await firstStatsFrame(p.admin);
    assert.equal(frame.services.find((s) => s.service === 'orders')!.endpoints.find((e) => e.id === 'orders-b')!.unreachableSince, undefined);
  }
});
