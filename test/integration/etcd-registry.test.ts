// The registry across machines: real `mesh registry start --store etcd` daemons on one real etcd.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { MeshError } from '../../src/core/errors.js';
import type { InstanceSpec } from '../../src/core/types.js';
import { ETCD_SKIP, startEtcd, startEtcdRegistry, type EtcdProcess } from '../helpers/etcd.js';
import { eventually, freePort, runMesh } from '../helpers/mesh.js';
import { recordWatch } from '../helpers/registry.js';

let etcd: EtcdProcess | undefined;
let prefixes = 0;
before(async () => { if (!ETCD_SKIP) etcd = await startEtcd(); });
after(async () => { await etcd?.destroy(); });

const spec = (service: string, id: string, extra: Partial<InstanceSpec> = {}): InstanceSpec =>
  ({ service, id, address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {}, ...extra });

test('register through daemon A, a watcher on daemon B sees it', { skip: ETCD_SKIP, timeout: 30_000 }, async (t) => {
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  const watch = await recordWatch(t, b.client, ['web']);
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const { instance } = await a.client.register(spec('web', `w${i}`));
    const seen = await watch.next((e) => e.type === 'upsert' && e.instance.id === `w${i}`, 5_000);
    assert.equal(seen.event.index, instance.modifyIndex, 'both daemons speak in etcd revisions');
    latencies.push(seen.at - t0);
  }
  t.diagnostic(`register on A -> watch event on B: ${latencies.map((l) => `${l.toFixed(1)} ms`).join(', ')}`);

  const list = await runMesh(['services', 'web', '--json', '--registry', b.url]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout).instances.map((i: { id: string }) => i.id), ['w0', 'w1', 'w2', 'w3', 'w4']);
  const status = JSON.parse((await runMesh(['registry', 'status', '--json', '--registry', b.url])).stdout);
  assert.equal(status.kind, 'etcd');
  assert.equal(status.readOnly, false);
  assert.equal(status.details.endpoints, etcd!.url);
  assert.equal(status.index, (await a.client.status()).index);
  const text = await runMesh(['registry', 'status', '--registry', a.url]);
  assert.match(text.stdout, /store:\s+etcd\n/);
  assert.match(text.stdout, new RegExp(`endpoints:\\s+${etcd!.url.replace(/[.]/g, '\\.')}\n`));

  const del = await runMesh(['deregister', 'web', 'w0', '--registry', b.url]);
  assert.equal(del.code, 0, del.stderr);
  await watch.next((e) => e.type === 'remove' && e.id === 'w0', 5_000);
  assert.equal((await a.client.service('web')).instances.length, 4);
});

test('an expired TTL instance turns critical first, then is removed after deregister-after (as on the embedded store)', { skip: ETCD_SKIP, timeout: 30_000 }, async (t) => {
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  const watch = await recordWatch(t, b.client, ['api']);
  const reg = await runMesh(['register', 'api', '--address', '127.0.0.1:9100', '--id', 'api-ttl', '--ttl', '2s', '--deregister-after', '2s', '--registry', a.url]);
  assert.equal(reg.code, 0, reg.stderr);
  await a.client.heartbeat('api', 'api-ttl');
  const up = await watch.next((e) => e.type === 'upsert' && e.instance.id === 'api-ttl' && e.instance.health === 'passing');
  const critical = await watch.next((e) => e.type === 'upsert' && e.instance.id === 'api-ttl' && e.instance.health === 'critical', 10_000);
  assert.ok(critical.at - up.at >= 1_500, `critical after ${critical.at - up.at} ms, before its TTL`);
  const shown = await runMesh(['services', 'api', '--json', '--registry', b.url]);
  assert.equal(JSON.parse(shown.stdout).instances[0].healthOutput, 'TTL expired');
  const gone = await watch.next((e) => e.type === 'remove' && e.id === 'api-ttl', 10_000);
  assert.ok(gone.at - critical.at >= 1_500, `removed ${gone.at - critical.at} ms after turning critical, before deregister-after`);
  assert.match(gone.event.type === 'remove' ? gone.event.reason : '', /deregister-after/);
  // Exactly one daemon (the service's checker) expired and removed it.
  const removers = [a, b].filter((d) => /health: removing api\/api-ttl: critical for longer than deregister-after/.test(d.daemon.stderr()));
  assert.equal(removers.length, 1);
});

test('LAST HEARTBEAT is the same on every daemon and stays fresh; heartbeats are no watch events', { skip: ETCD_SKIP, timeout: 30_000 }, async (t) => {
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  // TTL 4s: the shared time may lag at most TTL/2 = 2 s behind the newest heartbeat (heartbeatShareMs).
  const registered = await a.client.register(spec('hb', 'hb-1', { check: { ttlMs: 4_000 } }));
  const watch = await recordWatch(t, b.client, ['hb']);
  // Heartbeats arrive at daemon A only, every 500 ms for 5 s (bounded: 10 beats), as a keep-alive would send them.
  for (let i = 0; i < 10; i++) {
    await a.client.heartbeat('hb', 'hb-1');
    await new Promise((r) => setTimeout(r, 500));
  }
  const readAt = Date.now();
  const seen = await Promise.all([a, b].map(async (d) => {
    const r = await runMesh(['services', 'hb', '--json', '--registry', d.url]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { instances: { lastHeartbeat: number; modifyIndex: number }[] }).instances[0]!;
  }));
  assert.equal(seen[1]!.lastHeartbeat, seen[0]!.lastHeartbeat, 'daemon B shows the heartbeat time daemon A received');
  assert.ok(readAt - seen[1]!.lastHeartbeat <= 2_000 + 500 + 1_000, `B's last heartbeat is ${readAt - seen[1]!.lastHeartbeat} ms old`);
  for (const s of seen) assert.equal(s.modifyIndex, registered.instance.modifyIndex, 'a heartbeat is not a change');
  assert.deepEqual(watch.events.filter((e) => e.event.type === 'upsert').length, 0, 'B\'s watchers heard of no heartbeat');
});

test('kill -9 a daemon: its TTL instances expire on the survivor, its static ones stay', { skip: ETCD_SKIP, timeout: 30_000 }, async (t) => {
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  const watch = await recordWatch(t, b.client, ['inv']);
  await a.client.register(spec('inv', 'static'));
  await a.client.register(spec('inv', 'ttl', { check: { ttlMs: 2_000, deregisterAfterMs: 1_000 } }));
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'ttl');
  assert.deepEqual(await a.daemon.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  // B expires it (it owns every service once A's member lease has run out): critical, then removed.
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'ttl' && e.instance.health === 'critical', 15_000);
  await watch.next((e) => e.type === 'remove' && e.id === 'ttl', 10_000);
  assert.deepEqual((await b.client.service('inv')).instances.map((i) => i.id), ['static']);
  // The dead daemon drops out of the checker membership when its session lease runs out.
  await eventually(async () => (await b.client.status()).details.members === 1, 15_000);
});

test('active checks run on one daemon per service; when it dies, another takes over', { skip: ETCD_SKIP, timeout: 40_000 }, async (t) => {
  let healthy = true;
  const backend = createServer((_req, res) => { res.writeHead(healthy ? 200 : 500).end(); });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => { backend.closeAllConnections(); backend.close(); });
  const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/health`;
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  await eventually(async () => (await a.client.status()).details.members === 2);
  const watch = await recordWatch(t, b.client, ['chk']);
  await a.client.register(spec('chk', 'c1', { check: { http: url, intervalMs: 200, timeoutMs: 1_000 } }));
  await watch.next((e) => e.type === 'upsert' && e.instance.health === 'passing', 10_000);
  const line = /health: chk\/c1 critical -> passing/;
  const checkers = [a, b].filter((d) => line.test(d.daemon.stderr()));
  assert.equal(checkers.length, 1, `exactly one daemon checks chk:\nA: ${a.daemon.stderr()}\nB: ${b.daemon.stderr()}`);
  const [checker, other] = checkers[0] === a ? [a, b] : [b, a];

  await checker.daemon.stop('SIGKILL');
  healthy = false;
  // The survivor owns every service once the dead daemon's member lease (5 s) runs out.
  const otherWatch = await recordWatch(t, other.client, ['chk']);
  await otherWatch.next((e) => e.type === 'upsert' && e.instance.health === 'critical', 20_000);
  assert.match(other.daemon.stderr(), /health: chk\/c1 passing -> critical/);
});

test('etcd down: daemons serve read-only and refuse writes with 503; back: they catch up, nothing lost', { skip: ETCD_SKIP, timeout: 60_000 }, async (t) => {
  const prefix = `/it${++prefixes}`;
  const a = await startEtcdRegistry(t, etcd!.url, prefix);
  const b = await startEtcdRegistry(t, etcd!.url, prefix);
  for (let i = 0; i < 10; i++) await (i % 2 ? a : b).client.register(spec('pay', `p${i}`));
  await eventually(async () => (await b.client.service('pay')).instances.length === 10);
  const watch = await recordWatch(t, a.client, ['pay']);

  await etcd!.stop();
  for (const d of [a, b]) {
    await eventually(async () => (await d.client.status()).readOnly, 10_000);
    await d.daemon.waitFor(/lost etcd/);
  }
  const status = await runMesh(['registry', 'status', '--registry', a.url]);
  assert.match(status.stdout, /store:\s+etcd \(read-only: etcd at .* is unreachable/);
  assert.equal((await a.client.service('pay')).instances.length, 10, 'reads serve the last known state');
  await assert.rejects(b.client.register(spec('pay', 'late')), (err: unknown) =>
    err instanceof MeshError && err.code === 'MESH_ERR_REGISTRY_READ_ONLY' && err.status === 503);
  const cli = await runMesh(['register', 'pay', '--address', '127.0.0.1:9999', '--registry', a.url]);
  assert.equal(cli.code, 1);
  assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
  assert.match(cli.stderr, /read-only/);

  await etcd!.start();
  for (const d of [a, b]) {
    await eventually(async () => !(await d.client.status()).readOnly, 20_000);
    await d.daemon.waitFor(/etcd is back/);
  }
  for (const d of [a, b]) assert.equal((await d.client.service('pay')).instances.length, 10, 'no registration lost');
  await b.client.register(spec('pay', 'p10'));
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'p10', 5_000);
});

test('etcd unreachable at start: one clear line, exit 1', { skip: ETCD_SKIP, timeout: 20_000 }, async () => {
  const port = await freePort();
  const r = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^mesh: etcd at http://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`));
});

test('bad etcd flags: one line, exit 2', { timeout: 20_000 }, async () => {
  for (const [args, re] of [
    [['--store', 'etcd'], /--store etcd needs --etcd-endpoints/],
    [['--etcd-endpoints', 'http://127.0.0.1:2379'], /--etcd-endpoints needs --store etcd/],
    [['--store', 'etcd', '--etcd-endpoints', 'ftp://x'], /invalid URL "ftp:\/\/x"/],
    [['--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379', '--etcd-username', 'u'], /needs a password/],
    [['--store', 'zk'], /--store/],
  ] as const) {
    const r = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
