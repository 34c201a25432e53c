// The etcd store's write path without an etcd: how writes share transactions (batch.ts), how the writes of one
// transaction wait for the watch, and how the cache takes this daemon's own writes back (cache.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ITxnRequest, ITxnResponse } from 'etcd3';
import type { Instance } from '../../../src/core/types.js';
import { WriteBatcher } from '../../../src/registry/store/etcd/batch.js';
import { EtcdCache } from '../../../src/registry/store/etcd/cache.js';
import { decodeInstance, encodeInstance, instanceKey, type KeyValueLike, type StoredInstance } from '../../../src/registry/store/etcd/keys.js';
import type { StoreEvent } from '../../../src/registry/store/store.js';

/** A fake etcd: records each transaction and answers it at revision 10, 11, … once `release` is called. */
function fakeEtcd() {
  const txns: ITxnRequest[] = [];
  const pending: (() => void)[] = [];
  let revision = 9;
  const send = (req: ITxnRequest): Promise<ITxnResponse> => {
    txns.push(req);
    return new Promise((resolve) => pending.push(() => resolve({
      header: { revision: String(++revision), raft_term: '2' },
      succeeded: true,
      responses: (req.success ?? []).map(() => ({ response_put: {} })),
    } as unknown as ITxnResponse)));
  };
  return { txns, send, release: () => { for (const p of pending.splice(0)) p(); } };
}

const put = (key: string) => ({ key, value: Buffer.from('{}'), lease: '0' });

test('writes made in one turn of the event loop share one transaction (none goes out alone first)', async () => {
  const etcd = fakeEtcd();
  const batcher = new WriteBatcher(etcd.send);
  const done = Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => batcher.write(put(`/p/services/s/${k}`))));
  await new Promise((r) => setImmediate(r));
  assert.equal(etcd.txns.length, 1, 'one transaction for the five writes');
  assert.equal(etcd.txns[0]!.success!.length, 5);
  etcd.release();
  const results = await done;
  assert.deepEqual(new Set(results.map((r) => r.revision)), new Set([10]));
});

test('writes made while a transaction is out wait for it and then go out together in the next one', async () => {
  const etcd = fakeEtcd();
  const batcher = new WriteBatcher(etcd.send);
  const first = batcher.write(put('/p/services/s/a'));
  await new Promise((r) => setImmediate(r));
  const later = ['b', 'c', 'd'].map((k) => batcher.write(put(`/p/services/s/${k}`)));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(etcd.txns.length, 1, 'nothing more goes out while the first transaction is under way');
  etcd.release();
  assert.equal((await first).revision, 10);
  await new Promise((r) => setImmediate(r));
  assert.equal(etcd.txns.length, 2);
  assert.equal(etcd.txns[1]!.success!.length, 3, 'the three later writes share the second transaction');
  etcd.release();
  assert.deepEqual(new Set((await Promise.all(later)).map((r) => r.revision)), new Set([11]));
});

test('a second write to a key waits for the next transaction, so writes to one key keep their order', async () => {
  const etcd = fakeEtcd();
  const batcher = new WriteBatcher(etcd.send);
  const first = batcher.write(put('/p/services/s/a'));
  const second = batcher.write(put('/p/services/s/a'));
  await new Promise((r) => setImmediate(r));
  assert.equal(etcd.txns.length, 1);
  etcd.release();
  assert.equal((await first).revision, 10);
  await new Promise((r) => setImmediate(r));
  etcd.release();
  assert.equal((await second).revision, 11);
  assert.equal(etcd.txns.length, 2);
});

test('waits for one revision share one promise; they resolve true once applied, false after the timeout', async () => {
  const cache = new EtcdCache('/p');
  cache.load([], 5);
  const waits = Array.from({ length: 20 }, () => cache.waitFor(7, 5_000));
  assert.equal(new Set(waits).size, 1, 'the writes of one transaction wait together');
  assert.equal(await cache.waitFor(5, 10), true, 'an applied revision resolves at once');
  cache.applyWatch([], 7); // a progress notification up to revision 7
  assert.deepEqual(await Promise.all(waits), waits.map(() => true));
  assert.equal(await cache.waitFor(8, 20), false);
  const late = cache.waitFor(9, 5_000);
  cache.releaseWaiters();
  assert.equal(await late, false, 'closing releases the waiters');
});

const stored = (id: string, extra: Partial<StoredInstance> = {}): StoredInstance => ({
  service: 'web', id, address: '10.0.0.1:80', weight: 100, priority: 0, zone: 'z', tags: { v: '1' }, check: { ttlMs: 10_000 },
  health: 'passing', healthOutput: undefined, lastHeartbeat: 1_000, registeredAt: 1_000, ...extra,
});

/** A key-value as the watch delivers it; `value` may be a Buffer whose text must not be read. */
const echo = (key: string, value: Buffer, create: number, mod: number): KeyValueLike => ({ key: Buffer.from(key), value, create_revision: String(create), mod_revision: String(mod), lease: '0' });

test('the cache takes its own write back from the object it was encoded from, equal to what a decode gives', () => {
  const cache = new EtcdCache('/p');
  cache.load([], 1);
  const events: StoreEvent[] = [];
  cache.subscribe((e) => events.push(e));
  const key = instanceKey('/p', 'web', 'a');
  const s = stored('a');
  const value = encodeInstance(s);
  // The watch's copy of the bytes: equal, but reading its text would mean parsing it again.
  const fromWatch = Buffer.from(value);
  fromWatch.toString = () => { throw new Error('the own write was parsed again'); };
  cache.expectOwnWrite(key, { value, stored: s, changeRevision: undefined });
  cache.applyWatch([{ type: 'Put', kv: echo(key, fromWatch, 2, 2) }], 2);
  const got = cache.get('web', 'a')!;
  const decoded = decodeInstance(echo(key, value, 2, 2), 'web', 'a')!.instance;
  assert.deepEqual(got, decoded);
  assert.deepEqual(Object.keys(got), Object.keys(decoded), 'same fields in the same order (the API answers with them)');
  assert.equal('healthOutput' in got, false, 'undefined fields are left out, as after a JSON round trip');
  assert.notEqual(got, s, 'the cache holds its own copy, not the object the caller wrote');
  assert.deepEqual(events.map((e) => e.type === 'upsert' && e.instance), [got]);
});

test('a heartbeat-only own write keeps the modifyIndex it carries, and other bytes under the key are decoded', () => {
  const cache = new EtcdCache('/p');
  cache.load([], 1);
  const key = instanceKey('/p', 'web', 'a');
  const beat = stored('a', { lastHeartbeat: 5_000 });
  const value = encodeInstance(beat, 2);
  cache.expectOwnWrite(key, { value, stored: beat, changeRevision: 2 });
  cache.applyWatch([{ type: 'Put', kv: echo(key, Buffer.from(value), 2, 3) }], 3);
  assert.equal(cache.get('web', 'a')!.modifyIndex, 2);
  assert.equal(cache.get('web', 'a')!.lastHeartbeat, 5_000);
  // Another daemon's write to the same key, while this one expects a different value: decoded from its bytes.
  const mine = stored('a', { address: '10.0.0.2:80' });
  cache.expectOwnWrite(key, { value: encodeInstance(mine), stored: mine, changeRevision: undefined });
  cache.applyWatch([{ type: 'Put', kv: echo(key, encodeInstance(stored('a', { address: '10.0.0.3:80' })), 2, 4) }], 4);
  assert.equal(cache.get('web', 'a')!.address, '10.0.0.3:80');
});

test('encodeInstance stores no indexes, with or without them on the object', () => {
  const withIndexes = { ...stored('a'), createIndex: 3, modifyIndex: 4 } as Instance;
  assert.deepEqual(encodeInstance(withIndexes), encodeInstance(stored('a')));
  assert.equal(JSON.parse(encodeInstance(stored('a'), 7).toString()).changeRevision, 7);
});
