// The etcd store against a real etcd: two stores (as two daemons would hold) on one etcd prefix.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { MeshError } from '../../src/core/errors.js';
import type { InstanceSpec } from '../../src/core/types.js';
import { EtcdStore } from '../../src/registry/store/etcd/etcd-store.js';
import type { StoreEvent } from '../../src/registry/store/store.js';
import { ETCD_SKIP, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { eventually, freePort } from '../helpers/mesh.js';

let etcd: EtcdProcess | undefined;
const stores: EtcdStore[] = [];
let prefixCount = 0;

before(async () => { if (!ETCD_SKIP) etcd = await startEtcd(); });
after(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await etcd?.destroy();
});

async function openStore(prefix: string, extra: Partial<ConstructorParameters<typeof EtcdStore>[0]> = {}): Promise<EtcdStore> {
  const s = new EtcdStore({ endpoints: [etcd!.url], prefix, probeIntervalMs: 200, memberTtlSeconds: 2, ...extra });
  stores.push(s);
  await s.open();
  return s;
}

const spec = (service: string, id: string, extra: Partial<InstanceSpec> = {}): InstanceSpec =>
  ({ service, id, address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {}, ...extra });

test('a write through one store reaches the other through the watch, indexed by etcd revision', { skip: ETCD_SKIP, timeout: 30_000 }, async () => {
  const prefix = `/t${++prefixCount}`;
  const a = await openStore(prefix);
  const b = await openStore(prefix);
  const seen: StoreEvent[] = [];
  b.subscribe((e) => seen.push(e));
  const inst = await a.upsert(spec('web', 'w1', { tags: { version: 'v1' } }));
  assert.equal(a.get('web', 'w1')?.address, '127.0.0.1:9000', 'A reads its own write');
  assert.equal(inst.modifyIndex, a.currentIndex());
  await eventually(() => seen.length === 1);
  assert.equal(seen[0]!.type, 'upsert');
  assert.equal(seen[0]!.index, inst.modifyIndex);
  assert.deepEqual(b.listService('web').map((i) => i.id), ['w1']);

  // Re-registering the same spec is a no-op; a changed spec is one new event.
  const again = await a.upsert(spec('web', 'w1', { tags: { version: 'v1' } }));
  assert.equal(again.modifyIndex, inst.modifyIndex);
  await a.upsert(spec('web', 'w1', { weight: 5, tags: { version: 'v1' } }));
  await eventually(() => seen.length === 2 && b.get('web', 'w1')?.weight === 5);

  assert.equal(await a.remove('web', 'w1', 'test'), true);
  assert.equal(await a.remove('web', 'w1', 'test'), false);
  await eventually(() => seen.length === 3);
  assert.equal(seen[2]!.type, 'remove');
  assert.ok(seen[1]!.index < seen[2]!.index);
  assert.equal(b.get('web', 'w1'), undefined);
});

test('concurrent writes share etcd transactions (group commit), and each is acknowledged only once committed', { skip: ETCD_SKIP, timeout: 30_000 }, async () => {
  const prefix = `/t${++prefixCount}`;
  const a = await openStore(prefix);
  const b = await openStore(prefix);
  const before = a.currentIndex();
  // 300 registrations at once, bounded: far more than one transaction (128 writes) carries.
  const done = await Promise.all(Array.from({ length: 300 }, (_, i) => a.upsert(spec('bulk', `b${i}`, { check: { ttlMs: 60_000 } }))));
  const revisions = new Set(done.map((i) => i.modifyIndex));
  assert.ok(revisions.size < 300, `300 writes took ${revisions.size} etcd revisions: they were not batched`);
  assert.ok(a.currentIndex() - before < 300);
  // Each acknowledged write is in etcd: the other daemon (and a fresh read) has all 300.
  await eventually(() => b.listService('bulk').length === 300);
  const raw = new Etcd3({ hosts: etcd!.url });
  try {
    const keys = await raw.getAll().prefix(`${prefix}/services/bulk/`).keys();
    assert.equal(keys.length, 300);
    const leases = await raw.getAll().prefix(`${prefix}/services/bulk/`).exec();
    assert.ok(leases.kvs.every((kv) => String(kv.lease) === '0'), 'TTL instances need no lease of their own');
  } finally {
    raw.close();
  }
  // A write to a key already in a batch under way waits for the next one, so the last write wins.
  await Promise.all([1, 2, 3].map((w) => a.upsert(spec('bulk', 'b0', { weight: w, check: { ttlMs: 60_000 } }))));
  await eventually(() => b.get('bulk', 'b0')?.weight === 3);
  assert.equal(a.get('bulk', 'b0')?.weight, 3);
});

test('a decision taken on a stale copy is vetoed: stillDue is asked again on the current state', { skip: ETCD_SKIP, timeout: 30_000 }, async () => {
  const prefix = `/t${++prefixCount}`;
  const a = await openStore(prefix);
  await a.upsert(spec('stale', 's1', { check: { ttlMs: 60_000 } }));
  // The guard says no: neither the expiry nor the removal is written.
  assert.equal((await a.setHealth('stale', 's1', 'critical', 'TTL expired', () => false))?.health, 'passing');
  assert.equal(await a.remove('stale', 's1', 'test', () => false), false);
  assert.ok(a.get('stale', 's1'));
  assert.equal((await a.setHealth('stale', 's1', 'critical', 'TTL expired', (cur) => cur.health !== 'critical'))?.health, 'critical');
  assert.equal(await a.remove('stale', 's1', 'test', (cur) => cur.health === 'critical'), true);
});

test('health changes are written back with compare-and-swap and seen everywhere', { skip: ETCD_SKIP, timeout: 30_000 }, async () => {
  const prefix = `/t${++prefixCount}`;
  const a = await openStore(prefix);
  const b = await openStore(prefix);
  const inst = await a.upsert(spec('db', 'd1', { check: { http: 'http://127.0.0.1:1/health', intervalMs: 1000 } }));
  assert.equal(inst.health, 'critical');
  await eventually(() => b.get('db', 'd1'));
  const [x, y] = await Promise.all([a.setHealth('db', 'd1', 'passing'), b.setHealth('db', 'd1', 'warning', 'slow')]);
  assert.ok(x && y);
  await eventually(() => a.get('db', 'd1')?.modifyIndex === b.get('db', 'd1')?.modifyIndex);
  assert.equal(a.get('db', 'd1')?.health, b.get('db', 'd1')?.health);
  // Exactly one daemon checks each service.
  await eventually(() => a.status().details.members === 2 && b.status().details.members === 2);
  const owners = ['db', 'web', 'api', 'orders', 'cart'].map((s) => [a.shouldCheck(s), b.shouldCheck(s)].filter(Boolean).length);
  assert.deepEqual(owners, [1, 1, 1, 1, 1]);
});

test('etcd down: read-only with the last state; back: catches up with no lost registrations', { skip: ETCD_SKIP, timeout: 45_000 }, async () => {
  const prefix = `/t${++prefixCount}`;
  const logs: string[] = [];
  const a = await openStore(prefix, { log: (l) => logs.push(l) });
  const b = await openStore(prefix);
  for (let i = 0; i < 20; i++) await a.upsert(spec('pay', `p${i}`));
  await eventually(() => b.listService('pay').length === 20);
  await etcd!.stop();
  await eventually(() => a.status().readOnly && b.status().readOnly, 10_000);
  assert.match(a.status().reason ?? '', /unreachable/);
  assert.equal(a.listService('pay').length, 20, 'reads serve the cache');
  await assert.rejects(a.upsert(spec('pay', 'late')), (err: unknown) => err instanceof MeshError && err.code === 'MESH_ERR_REGISTRY_READ_ONLY' && err.status === 503);
  await etcd!.start();
  await eventually(() => !a.status().readOnly && !b.status().readOnly, 15_000);
  assert.ok(logs.some((l) => /lost etcd/.test(l)) && logs.some((l) => /etcd is back/.test(l)), logs.join('\n'));
  await a.upsert(spec('pay', 'p20'));
  await eventually(() => b.listService('pay').length === 21);
});

test('a watch that cannot resume (compacted) resyncs and emits the difference', { skip: ETCD_SKIP, timeout: 45_000 }, async (t) => {
  const prefix = `/t${++prefixCount}`;
  // A reaches etcd only through a relay the test controls: with the relay shut, etcd is changed and its history
  // compacted while A cannot see it, so A's resume from its last revision must hit the compaction (racing a real
  // etcd restart, A sometimes resumed before the compaction, and the test saw the plain resume path instead).
  const relay = await tcpRelay(Number(new URL(etcd!.url).port));
  t.after(() => relay.close());
  const logs: string[] = [];
  const a = await openStore(prefix, { endpoints: [`http://127.0.0.1:${relay.port}`], log: (l) => logs.push(l) });
  await a.upsert(spec('inv', 'keep'));
  await a.upsert(spec('inv', 'gone'));
  const events: StoreEvent[] = [];
  a.subscribe((e) => events.push(e));
  relay.pause();
  await eventually(() => a.status().readOnly, 10_000);
  const raw = new Etcd3({ hosts: etcd!.url });
  try {
    await raw.delete().key(`${prefix}/services/inv/gone`);
    await raw.put(`${prefix}/services/inv/new`).value(JSON.stringify({ ...spec('inv', 'new'), health: 'passing', registeredAt: 1 }));
    const rev = Number((await raw.kv.range({ key: Buffer.from('x') })).header.revision);
    await raw.kv.compact({ revision: rev, physical: true });
  } finally {
    raw.close();
  }
  relay.resume();
  await eventually(() => !a.status().readOnly && a.get('inv', 'new'), 15_000).catch((err: Error) => { throw new Error(`${err.message}\n${logs.join('\n')}`); });
  assert.deepEqual(a.listService('inv').map((i) => i.id), ['keep', 'new']);
  await eventually(() => logs.some((l) => /compacted/.test(l))).catch((err: Error) => { throw new Error(`${err.message}\n${logs.join('\n')}`); });
  assert.deepEqual(events.map((e) => `${e.type}:${e.type === 'upsert' ? e.instance.id : e.id}`).sort(), ['remove:gone', 'upsert:new']);
});

/** A loopback TCP relay to `port` that can be cut (every connection dropped, new ones refused) and restored. */
async function tcpRelay(port: number): Promise<{ port: number; pause(): void; resume(): void; close(): void }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) { client.destroy(); return; }
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => { client.destroy(); upstream.destroy(); }); }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const cut = () => { for (const s of sockets) s.destroy(); };
  return {
    port: (server.address() as AddressInfo).port,
    pause: () => { open = false; cut(); },
    resume: () => { open = true; },
    close: () => { open = false; cut(); server.close(); },
  };
}

test('open() against an etcd nobody runs fails fast with a clear MeshError', { skip: ETCD_SKIP, timeout: 20_000 }, async () => {
  const port = await freePort();
  const s = new EtcdStore({ endpoints: [`http://127.0.0.1:${port}`], openTimeoutMs: 2_000 });
  const started = Date.now();
  await assert.rejects(s.open(), (err: unknown) => err instanceof MeshError && err.code === 'MESH_ERR_ETCD_UNAVAILABLE'
    && err.message.startsWith(`etcd at http://127.0.0.1:${port} is unreachable`));
  assert.ok(Date.now() - started < 10_000);
});
