import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../src/core/clock.js';
import type { HealthCheckSpec, InstanceSpec } from '../../../src/core/types.js';
import { EmbeddedStore } from '../../../src/registry/store/embedded/embedded-store.js';
import { HealthMonitor } from '../../../src/registry/catalogue/health.js';
import type { StoreEvent } from '../../../src/registry/store/store.js';
import { eventually, tempDir } from '../../helpers/mesh.js';

async function setup(t: TestContext, opts: { clock?: ManualClock; ttlGraceOnStart?: boolean; startMonitor?: boolean } = {}) {
  const dir = tempDir();
  t.after(dir.cleanup);
  const store = new EmbeddedStore({ dataDir: dir.path, ...(opts.clock ? { clock: opts.clock } : {}) });
  await store.open();
  const lines: string[] = [];
  const monitor = new HealthMonitor({ store, log: (l) => lines.push(l), ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.ttlGraceOnStart === undefined ? {} : { ttlGraceOnStart: opts.ttlGraceOnStart }) });
  t.after(async () => { await monitor.stop(); await store.close(); });
  const events: StoreEvent[] = [];
  store.subscribe((e) => events.push(e));
  if (opts.startMonitor !== false) monitor.start();
  return { store, monitor, events, lines };
}

const spec = (id: string, check?: HealthCheckSpec): InstanceSpec => ({
  service: 'web', id, address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {}, ...(check ? { check } : {}),
});

type Step = { advance?: number; heartbeat?: true; expect: 'passing' | 'critical' | 'removed'; output?: string };
const ttlScenarios: { name: string; steps: Step[] }[] = [
  { name: 'heartbeats keep a TTL instance passing', steps: [
    { advance: 4_000, expect: 'passing' }, { heartbeat: true, expect: 'passing' }, { advance: 4_000, expect: 'passing' },
    { heartbeat: true, expect: 'passing' }, { advance: 4_999, expect: 'passing' },
  ] },
  { name: 'a missed TTL turns critical, a heartbeat heals it', steps: [
    { advance: 5_000, expect: 'critical', output: 'TTL expired' }, { heartbeat: true, expect: 'passing' },
    { advance: 4_000, expect: 'passing' }, { advance: 1_000, expect: 'critical' },
  ] },
  { name: 'critical longer than deregister-after is removed', steps: [
    { advance: 5_000, expect: 'critical' }, { advance: 9_999, expect: 'critical' }, { advance: 1, expect: 'removed' },
  ] },
];

for (const { name, steps } of ttlScenarios) {
  test(`TTL: ${name}`, { timeout: 10_000 }, async (t) => {
    const clock = new ManualClock();
    const { store, monitor, events } = await setup(t, { clock });
    await store.upsert(spec('w1', { ttlMs: 5_000, deregisterAfterMs: 10_000 }));
    for (const [n, step] of steps.entries()) {
      if (step.advance) clock.advance(step.advance);
      if (step.heartbeat) await store.heartbeat('web', 'w1');
      await monitor.tick();
      const inst = store.get('web', 'w1');
      assert.equal(inst?.health ?? 'removed', step.expect, `step ${n}`);
      if (step.output) assert.equal(inst?.healthOutput, step.output, `step ${n}`);
    }
    if (steps.at(-1)!.expect === 'removed') {
      assert.deepEqual(events.at(-1), { type: 'remove', index: store.currentIndex(), service: 'web', id: 'w1', reason: 'critical for longer than deregister-after' });
    }
  });
}

for (const grace of [true, false]) {
  test(`after a restart, TTLs count from the monitor's start: ttlGraceOnStart=${grace}`, { timeout: 10_000 }, async (t) => {
    const clock = new ManualClock();
    const { store, monitor } = await setup(t, { clock, ttlGraceOnStart: grace, startMonitor: false });
    await store.upsert(spec('w1', { ttlMs: 5_000 }));
    clock.advance(3_600_000); // the daemon was down for an hour
    monitor.start();
    await monitor.tick();
    assert.equal(store.get('web', 'w1')?.health, grace ? 'passing' : 'critical');
    clock.advance(5_000);
    await monitor.tick();
    assert.equal(store.get('web', 'w1')?.health, 'critical');
  });
}

// The hooks a shared store (etcd) gives the monitor: TTLs count from its expiry floor (etcd writable again, or a
// new leader elected), expire ttlSlackMs late (the shared heartbeat time lags), and only on the service's checker.
test('shared-store policy: the expiry floor, the TTL slack and the checker decide when a TTL expires', { timeout: 10_000 }, async (t) => {
  const clock = new ManualClock();
  const dir = tempDir();
  t.after(dir.cleanup);
  const store = new EmbeddedStore({ dataDir: dir.path, clock });
  await store.open();
  let floor = 0;
  let mine = false;
  const monitor = new HealthMonitor({
    store, clock, ttlGraceOnStart: false, expiryFloor: () => floor, ttlSlackMs: () => 1_000, shouldCheck: () => mine,
  });
  t.after(async () => { await monitor.stop(); await store.close(); });
  await store.upsert(spec('w1', { ttlMs: 5_000 }));
  await store.heartbeat('web', 'w1');
  monitor.start();
  clock.advance(5_500);
  mine = true;
  await monitor.tick();
  assert.equal(store.get('web', 'w1')?.health, 'passing', 'within TTL + slack');
  floor = clock.now(); // etcd elected a new leader: heartbeats may have failed until now
  clock.advance(1_000);
  await monitor.tick();
  assert.equal(store.get('web', 'w1')?.health, 'passing', 'TTLs count from the floor');
  clock.advance(5_000);
  mine = false;
  await monitor.tick();
  assert.equal(store.get('web', 'w1')?.health, 'passing', 'another daemon owns the service: not this one\'s to expire');
  mine = true;
  await monitor.tick();
  assert.equal(store.get('web', 'w1')?.health, 'critical');
});

async function listen(t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return (server.address() as AddressInfo).port;
}

test('HTTP check: passing, warning on 429, critical when the server starts failing or goes away, then removed', { timeout: 20_000 }, async (t) => {
  let status = 200;
  const server = createHttpServer((_req, res) => { res.writeHead(status).end('ok'); });
  const port = await listen(t, server);
  const { store, lines } = await setup(t);
  const first = await store.upsert(spec('w1', { http: `http://127.0.0.1:${port}/health`, intervalMs: 20, timeoutMs: 1_000, deregisterAfterMs: 300 }));
  assert.equal(first.healthOutput, 'waiting for first check');
  const sees = (health: string, output: RegExp) => eventually(() => {
    const inst = store.get('web', 'w1');
    return inst?.health === health && output.test(inst.healthOutput ?? '');
  }, 5_000);
  await sees('passing', /^HTTP 200$/);
  status = 429;
  await sees('warning', /^HTTP 429$/);
  status = 500;
  await sees('critical', /^HTTP 500$/);
  status = 200;
  await sees('passing', /^HTTP 200$/);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await sees('critical', /ECONNREFUSED/);
  await eventually(() => store.get('web', 'w1') === undefined, 5_000);
  assert.match(lines.join('\n'), /removing web\/w1: critical for longer than deregister-after/);
});

test('HTTP check: a slow server times out and probes never overlap', { timeout: 20_000 }, async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  let requests = 0;
  const server = createHttpServer((_req, res) => {
    requests++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    // A probe that timed out closes its connection, so 'close' marks the end of each probe as the checker sees it.
    res.on('close', () => { inFlight--; });
    const timer = setTimeout(() => res.writeHead(200).end(), 300);
    res.on('close', () => clearTimeout(timer));
  });
  const port = await listen(t, server);
  const { store } = await setup(t);
  await store.upsert(spec('w1', { http: `http://127.0.0.1:${port}/`, intervalMs: 5, timeoutMs: 100 }));
  await eventually(() => store.get('web', 'w1')?.healthOutput === 'timeout after 100 ms', 5_000);
  await eventually(() => requests >= 3, 5_000);
  assert.equal(maxInFlight, 1, 'probes of one instance never overlap');
});

test('TCP check: passing while the port accepts, critical once it refuses', { timeout: 20_000 }, async (t) => {
  const server = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.after(() => server.close());
  const { store, monitor } = await setup(t);
  await store.upsert(spec('w1', { tcp: `127.0.0.1:${port}`, intervalMs: 20, timeoutMs: 1_000 }));
  await eventually(() => store.get('web', 'w1')?.health === 'passing', 5_000);
  await new Promise((r) => server.close(r));
  await eventually(() => /ECONNREFUSED/.test(store.get('web', 'w1')?.healthOutput ?? ''), 5_000);
  assert.equal(store.get('web', 'w1')?.health, 'critical');
  // Removing the instance stops its probes; stop() leaves nothing running.
  await store.remove('web', 'w1', 'deregistered');
  await monitor.stop();
});
