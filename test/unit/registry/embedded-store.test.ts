import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { isMeshError } from '../../../src/core/errors.js';
import type { Instance, InstanceSpec } from '../../../src/core/types.js';
import { defaultDataDir } from '../../../src/registry/store/embedded/data-dir.js';
import { EmbeddedStore } from '../../../src/registry/store/embedded/embedded-store.js';
import { readJournal } from '../../../src/registry/store/embedded/journal.js';
import { formatLockOwner, parseLockOwner } from '../../../src/registry/store/embedded/lock-owner.js';
import { selfIdentity, systemProbe } from '../../../src/registry/store/embedded/process-identity.js';
import { writeSnapshot } from '../../../src/registry/store/embedded/snapshot.js';
import type { StoreEvent } from '../../../src/registry/store/store.js';
import { tempDir } from '../../helpers/mesh.js';

/** Stores opened per data dir: a dir is removed only after its stores have closed (a compaction may still be writing). */
const storesIn = new Map<string, EmbeddedStore[]>();

function tmp(t: TestContext): string {
  const d = tempDir();
  t.after(async () => {
    for (const store of storesIn.get(d.path) ?? []) await store.close();
    storesIn.delete(d.path);
    d.cleanup();
  });
  return d.path;
}

function spec(service: string, n: number, extra: Partial<InstanceSpec> = {}): InstanceSpec {
  return { service, id: `${service}-${n}`, address: `127.0.0.1:${9000 + n}`, weight: 100, priority: 0, tags: { version: 'v1' }, ...extra };
}

async function openStore(t: TestContext, dataDir: string, opts: { clock?: ManualClock; compactAfterRecords?: number } = {}) {
  const lines: string[] = [];
  const store = new EmbeddedStore({ dataDir, log: (l) => lines.push(l), ...opts });
  storesIn.set(dataDir, [...(storesIn.get(dataDir) ?? []), store]);
  await store.open();
  t.after(() => store.close());
  return { store, lines };
}

/** What a `kill -9` leaves behind: the files as they are now, without the lock being released. */
function crashCopy(t: TestContext, from: string): string {
  const to = tmp(t);
  for (const name of readdirSync(from)) if (name !== 'LOCK') copyFileSync(join(from, name), join(to, name));
  return to;
}

const view = (insts: Instance[]) => insts.map((i) => ({ id: i.id, address: i.address, health: i.health, modifyIndex: i.modifyIndex }));

test('upsert, get, list, remove: durable, indexed, evented in order', { timeout: 10_000 }, async (t) => {
  const { store } = await openStore(t, tmp(t));
  const events: StoreEvent[] = [];
  store.subscribe((e) => events.push(e));
  const written = await Promise.all([spec('web', 2), spec('api', 1), spec('web', 1)].map((s) => store.upsert(s)));
  assert.deepEqual(written.map((i) => i.modifyIndex), [1, 2, 3]);
  assert.equal(store.currentIndex(), 3);
  assert.deepEqual(store.list().map((i) => i.id), ['api-1', 'web-1', 'web-2']);
  assert.deepEqual(store.listService('web').map((i) => i.id), ['web-1', 'web-2']);
  assert.deepEqual(store.listService('nope'), []);
  assert.equal(store.get('api', 'api-1')?.address, '127.0.0.1:9001');
  assert.equal(await store.remove('web', 'web-2', 'deregistered'), true);
  assert.equal(await store.remove('web', 'web-2', 'deregistered'), false);
  assert.deepEqual(events.map((e) => [e.type, e.index]), [['upsert', 1], ['upsert', 2], ['upsert', 3], ['remove', 4]]);
  assert.deepEqual(events[3], { type: 'remove', index: 4, service: 'web', id: 'web-2', reason: 'deregistered' });
  assert.ok(Object.isFrozen(written[0]), 'instances handed out are immutable');
});

test('re-registering an unchanged spec keeps health and emits nothing; a changed one updates in place', { timeout: 10_000 }, async (t) => {
  const { store } = await openStore(t, tmp(t));
  const check = { http: 'http://127.0.0.1:1/health', intervalMs: 1000 };
  const first = await store.upsert(spec('web', 1, { check }));
  await store.setHealth('web', 'web-1', 'passing');
  const events: StoreEvent[] = [];
  store.subscribe((e) => events.push(e));
  const again = await store.upsert(spec('web', 1, { tags: { version: 'v1' }, check: { intervalMs: 1000, http: 'http://127.0.0.1:1/health' } }));
  assert.equal(again.health, 'passing');
  assert.equal(events.length, 0);
  assert.equal(store.currentIndex(), 2);
  const changed = await store.upsert(spec('web', 1, { weight: 5, check }));
  assert.equal(changed.weight, 5);
  assert.equal(changed.health, 'passing', 'same check: health is kept');
  assert.equal(changed.createIndex, first.createIndex);
  assert.equal(changed.registeredAt, first.registeredAt);
  assert.equal(changed.modifyIndex, 3);
  assert.deepEqual(events.map((e) => e.type), ['upsert']);
});

const initialHealth: { name: string; check?: InstanceSpec['check']; health: string; output?: string }[] = [
  { name: 'no check', health: 'passing' },
  { name: 'TTL check (registration is the first heartbeat)', check: { ttlMs: 10_000 }, health: 'passing' },
  { name: 'HTTP check', check: { http: 'http://127.0.0.1:1/', intervalMs: 1000 }, health: 'critical', output: 'waiting for first check' },
  { name: 'TCP check', check: { tcp: '127.0.0.1:1', intervalMs: 1000 }, health: 'critical', output: 'waiting for first check' },
];
for (const c of initialHealth) {
  test(`a new instance with ${c.name} starts ${c.health}`, { timeout: 10_000 }, async (t) => {
    const clock = new ManualClock();
    const { store } = await openStore(t, tmp(t), { clock });
    const inst = await store.upsert(spec('web', 1, c.check ? { check: c.check } : {}));
    assert.equal(inst.health, c.health);
    assert.equal(inst.healthOutput, c.output);
    assert.equal(inst.lastHeartbeat, c.health === 'passing' ? clock.now() : undefined);
    assert.equal(inst.criticalSince, c.health === 'critical' ? clock.now() : undefined);
  });
}

test('heartbeats move lastHeartbeat in memory and journal only health changes', { timeout: 10_000 }, async (t) => {
  const clock = new ManualClock();
  const dir = tmp(t);
  const { store } = await openStore(t, dir, { clock });
  await store.upsert(spec('web', 1, { check: { ttlMs: 5000 } }));
  const records = () => store.status().details.journalRecords;
  clock.advance(1000);
  const beat = await store.heartbeat('web', 'web-1');
  assert.equal(beat?.lastHeartbeat, clock.now());
  assert.equal(records(), 1, 'a plain heartbeat is not journaled');
  clock.advance(1000);
  const expired = await store.setHealth('web', 'web-1', 'critical', 'TTL expired');
  assert.equal(expired?.criticalSince, clock.now());
  assert.equal(records(), 2);
  const again = await store.setHealth('web', 'web-1', 'critical', 'TTL expired');
  assert.equal(again?.modifyIndex, expired?.modifyIndex, 'same verdict: no new index');
  clock.advance(1000);
  const healed = await store.heartbeat('web', 'web-1');
  assert.equal(healed?.health, 'passing');
  assert.equal(healed?.healthOutput, undefined);
  assert.equal(healed?.criticalSince, undefined);
  assert.equal(records(), 3);
  assert.equal(await store.heartbeat('web', 'missing'), undefined);
  // A bare heartbeat does not overrule an active check's verdict.
  await store.upsert(spec('web', 2, { check: { tcp: '127.0.0.1:1' } }));
  assert.equal((await store.heartbeat('web', 'web-2'))?.health, 'critical');
});

test('every acknowledged change survives a crash (copy of the files while open) and a clean restart', { timeout: 10_000 }, async (t) => {
  const dir = tmp(t);
  const { store } = await openStore(t, dir);
  await Promise.all(Array.from({ length: 50 }, (_, n) => store.upsert(spec(`svc${n % 5}`, n))));
  await store.remove('svc0', 'svc0-0', 'gone');
  await store.setHealth('svc1', 'svc1-1', 'critical', 'HTTP 500');
  const expected = view(store.list());
  const crashed = crashCopy(t, dir);
  const { store: recovered } = await openStore(t, crashed);
  assert.deepEqual(view(recovered.list()), expected);
  assert.equal(recovered.currentIndex(), 52);
  // The index keeps growing after a restart.
  assert.equal((await recovered.upsert(spec('new', 1))).modifyIndex, 53);
  await store.close();
  const { store: reopened } = await openStore(t, dir);
  assert.deepEqual(view(reopened.list()), expected);
});

test('a torn last record is skipped and reported, never a reason to refuse start', { timeout: 10_000 }, async (t) => {
  const dir = tmp(t);
  const { store } = await openStore(t, dir);
  await store.upsert(spec('web', 1));
  await store.upsert(spec('web', 2));
  const size = statSync(join(dir, 'journal.log')).size;
  await store.close();
  const torn = readFileSync(join(dir, 'journal.log')).subarray(0, 30);
  appendFileSync(join(dir, 'journal.log'), torn);
  const { store: again, lines } = await openStore(t, dir);
  assert.deepEqual(again.list().map((i) => i.id), ['web-1', 'web-2']);
  assert.equal(again.status().details.skippedBytes, 30);
  assert.equal(statSync(join(dir, 'journal.log')).size, size);
  assert.match(lines.join('\n'), /cut 30 bytes of a torn write/);
});

test('compaction writes a snapshot, shrinks the journal, and replays to the same state', { timeout: 20_000 }, async (t) => {
  const dir = tmp(t);
  const { store, lines } = await openStore(t, dir, { compactAfterRecords: 20 });
  for (let n = 0; n < 45; n++) await store.upsert(spec(`svc${n % 3}`, n));
  await Promise.all(Array.from({ length: 30 }, (_, n) => store.upsert(spec('burst', n))));
  await store.remove('svc0', 'svc0-0', 'gone');
  const expected = view(store.list());
  await store.close();
  assert.ok(existsSync(join(dir, 'snapshot.json')));
  assert.match(lines.join('\n'), /compacted/);
  const { records } = await readJournal(join(dir, 'journal.log'));
  assert.ok(records.length < 40, `journal holds ${records.length} records after compaction`);
  const { store: again } = await openStore(t, dir, { compactAfterRecords: 20 });
  assert.deepEqual(view(again.list()), expected);
  assert.equal(again.currentIndex(), 76);
  assert.ok(Number(again.status().details.snapshotIndex) > 0);
});

test('a crash between compaction steps loses nothing', { timeout: 20_000 }, async (t) => {
  // Build a history with updates and deletes, remembering the state at index 10.
  const dir = tmp(t);
  const { store } = await openStore(t, dir);
  let at10: Instance[] = [];
  for (let n = 0; n < 20; n++) {
    if (n % 4 === 3) await store.remove('svc', `svc-${(n - 1) % 6}`, 'gone');
    else await store.upsert(spec('svc', n % 6, { weight: n + 1 }));
    if (store.currentIndex() === 10) at10 = store.list();
  }
  const expected = view(store.list());
  const cases: { name: string; prepare: (d: string) => Promise<void> }[] = [
    { name: 'half-written snapshot.json.tmp', prepare: async (d) => writeFileSync(join(d, 'snapshot.json.tmp'), '{"format":1,"ind') },
    { name: 'new snapshot, journal not yet rewritten', prepare: (d) => writeSnapshot(d, { index: 10, instances: at10 }) },
    { name: 'new snapshot and a half-written journal.log.tmp', prepare: async (d) => {
      await writeSnapshot(d, { index: 10, instances: at10 });
      writeFileSync(join(d, 'journal.log.tmp'), readFileSync(join(d, 'journal.log')).subarray(0, 57));
    } },
  ];
  for (const c of cases) {
    const copy = crashCopy(t, dir);
    await c.prepare(copy);
    const { store: recovered } = await openStore(t, copy);
    assert.deepEqual(view(recovered.list()), expected, c.name);
    assert.equal(recovered.currentIndex(), 20, c.name);
  }
});

test('a second store on a locked data dir is refused; a dead owner\'s lock is taken over', { timeout: 10_000 }, async (t) => {
  const dir = tmp(t);
  await openStore(t, dir);
  await assert.rejects(new EmbeddedStore({ dataDir: dir }).open(), (err: unknown) => {
    assert.ok(isMeshError(err));
    assert.equal(err.code, 'MESH_ERR_STORE_LOCKED');
    assert.equal(err.message, `data dir ${dir} is locked by another registry daemon (pid ${process.pid})`);
    return true;
  });
  // A live process that is not us, named with its exact identity (pid, boot id, start time): it holds the lock.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  const liveDir = tmp(t);
  const childIdentity = { ...selfIdentity(systemProbe), pid: child.pid!, startTime: systemProbe.startTime(child.pid!) };
  writeFileSync(join(liveDir, 'LOCK'), formatLockOwner(childIdentity));
  await assert.rejects(new EmbeddedStore({ dataDir: liveDir }).open(), new RegExp(`locked by another registry daemon \\(pid ${child.pid}\\)`));
  // The same process after kill -9: its lock is stale.
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const { store, lines } = await openStore(t, liveDir);
  assert.equal(parseLockOwner(readFileSync(join(liveDir, 'LOCK'), 'utf8'))?.pid, process.pid);
  assert.match(lines.join('\n'), new RegExp(`lock: took over the stale lock .*pid ${child.pid} is not running`));
  await store.close();
  assert.equal(existsSync(join(liveDir, 'LOCK')), false, 'close releases the lock');
  assert.deepEqual(readdirSync(liveDir).filter((f) => f.startsWith('LOCK')), [], 'no temporary lock files are left behind');
  // An empty LOCK (written by hand, or by an older mesh that crashed between create and write) is stale too.
  writeFileSync(join(liveDir, 'LOCK'), '');
  await openStore(t, liveDir);
});

test('an unwritable data dir is refused with MESH_ERR_STORE_IO naming the dir', { timeout: 10_000 }, async (t) => {
  const base = tmp(t);
  writeFileSync(join(base, 'file'), 'x');
  const dirs = [join(base, 'file', 'registry')];
  if (process.getuid?.() !== 0) {
    mkdirSync(join(base, 'ro'));
    chmodSync(join(base, 'ro'), 0o500);
    dirs.push(join(base, 'ro', 'registry'), join(base, 'ro'));
  }
  for (const dataDir of dirs) {
    await assert.rejects(new EmbeddedStore({ dataDir }).open(), (err: unknown) => {
      assert.ok(isMeshError(err));
      assert.equal(err.code, 'MESH_ERR_STORE_IO');
      assert.match(err.message, new RegExp(`data dir ${dataDir} is not writable`));
      return true;
    });
  }
});

test('the default data dir follows XDG_STATE_HOME, else ~/.local/state', () => {
  const table: [NodeJS.ProcessEnv, string][] = [
    [{ XDG_STATE_HOME: '/x/state', HOME: '/home/u' }, '/x/state/mesh/registry'],
    [{ HOME: '/home/u' }, '/home/u/.local/state/mesh/registry'],
    [{ XDG_STATE_HOME: 'relative', HOME: '/home/u' }, '/home/u/.local/state/mesh/registry'],
  ];
  for (const [env, want] of table) assert.equal(defaultDataDir(env), want);
});
