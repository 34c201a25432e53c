// The etcd layout, revision mapping, resync diff and checker sharding: pure logic, no etcd needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Instance } from '../../../src/core/types.js';
import { EtcdCache } from '../../../src/registry/store/etcd/cache.js';
import {
  checkerFor, decodeInstance, diffSnapshots, encodeInstance, instanceKey, memberKey, normalizePrefix, parseKey,
  prefixRangeEnd, type CachedInstance, type KeyValueLike,
} from '../../../src/registry/store/etcd/keys.js';
import type { StoreEvent } from '../../../src/registry/store/store.js';

const inst = (service: string, id: string, extra: Partial<Instance> = {}): Instance => ({
  service, id, address: '127.0.0.1:80', weight: 100, priority: 0, tags: {}, health: 'passing', registeredAt: 1, createIndex: 0, modifyIndex: 0, ...extra,
});

const kv = (key: string, value: Instance | string, create: number, mod: number, lease = '0'): KeyValueLike => ({
  key: Buffer.from(key),
  value: Buffer.from(typeof value === 'string' ? value : encodeInstance(value)),
  create_revision: String(create), mod_revision: String(mod), lease,
});

test('key layout: prefixes normalise, keys round-trip, foreign keys are ignored', () => {
  assert.equal(normalizePrefix('/mesh/v1/'), '/mesh/v1');
  assert.equal(normalizePrefix('mesh'), '/mesh');
  assert.equal(instanceKey('/mesh/v1', 'web', 'web-1:80'), '/mesh/v1/services/web/web-1:80');
  assert.deepEqual(parseKey('/mesh/v1', '/mesh/v1/services/web/web-1:80'), { kind: 'instance', service: 'web', id: 'web-1:80' });
  assert.deepEqual(parseKey('/mesh/v1', memberKey('/mesh/v1', 'h-1-ab')), { kind: 'member', member: 'h-1-ab' });
  for (const k of ['/mesh/v1/services/web', '/mesh/v1/services/web/', '/mesh/v1/services/web/a/b', '/other/services/web/a', '/mesh/v1/members/']) {
    assert.equal(parseKey('/mesh/v1', k), undefined, k);
  }
});

test('prefixRangeEnd is the first key after every key under the prefix', () => {
  assert.equal(prefixRangeEnd('/mesh/').toString(), '/mesh0');
  assert.deepEqual([...prefixRangeEnd('a\u00ff')], [0x61, 0xc3, 0xc0]);
});

test('revisions map onto indexes: create_revision → createIndex, mod_revision → modifyIndex', () => {
  const c = decodeInstance(kv('/p/services/web/a', inst('web', 'a', { createIndex: 99, modifyIndex: 99 }), 7, 12, '694d7f'), 'web', 'a')!;
  assert.equal(c.instance.createIndex, 7);
  assert.equal(c.instance.modifyIndex, 12);
  assert.equal(c.modRevision, 12);
  assert.equal(c.lease, '694d7f');
  assert.equal(JSON.parse(encodeInstance(c.instance).toString()).createIndex, undefined, 'indexes are not stored; etcd keeps them');
  assert.equal(decodeInstance(kv('/p/services/web/a', 'not json', 1, 1), 'web', 'a'), undefined);
  assert.equal(decodeInstance(kv('/p/services/web/a', inst('web', 'b'), 1, 1), 'web', 'a'), undefined, 'value must match its key');
});

test('diffSnapshots: new and changed instances are upserts, vanished ones removes, all at the resync revision', () => {
  const c = (id: string, mod: number): CachedInstance => ({ instance: inst('s', id, { modifyIndex: mod }), lease: '0', modRevision: mod });
  const before = new Map([['k/a', c('a', 3)], ['k/b', c('b', 4)], ['k/c', c('c', 5)]]);
  const after = new Map([['k/a', c('a', 3)], ['k/b', c('b', 9)], ['k/d', c('d', 8)]]);
  const events = diffSnapshots(before, after, 10);
  assert.deepEqual(events.map((e) => `${e.type}:${e.type === 'upsert' ? e.instance.id : e.id}@${e.index}`), ['upsert:b@10', 'remove:c@10', 'upsert:d@10']);
});

test('checkerFor picks exactly one live member per service, spreads services, moves only the leaver\'s', () => {
  const members = ['a-1', 'b-2', 'c-3'];
  const services = Array.from({ length: 300 }, (_, i) => `svc-${i}`);
  const owner = new Map(services.map((s) => [s, checkerFor(s, members)!]));
  const counts = members.map((m) => [...owner.values()].filter((o) => o === m).length);
  for (const n of counts) assert.ok(n > 50, `uneven spread ${counts}`);
  assert.equal(checkerFor('x', []), undefined);
  const after = new Map(services.map((s) => [s, checkerFor(s, ['a-1', 'c-3'])!]));
  for (const s of services) if (owner.get(s) !== 'b-2') assert.equal(after.get(s), owner.get(s), 'only b-2\'s services move');
  assert.equal(checkerFor('web', ['c-3', 'a-1', 'b-2']), checkerFor('web', members), 'order does not matter');
});

test('EtcdCache: watch events become store events in revision order; replays and foreign keys are ignored', async () => {
  const cache = new EtcdCache('/p');
  const seen: StoreEvent[] = [];
  cache.load([kv('/p/services/web/a', inst('web', 'a'), 2, 2), kv('/p/members/m1', '{}', 3, 3)], 5);
  cache.subscribe((e) => seen.push(e));
  assert.deepEqual([...cache.members], ['m1']);
  const waiting = cache.waitFor(7, 1_000);
  cache.applyWatch([
    { type: 'Put', kv: kv('/p/services/web/b', inst('web', 'b'), 6, 6, '1a') },
    { type: 'Put', kv: kv('/other/key', 'x', 7, 7) },
  ], 7);
  assert.equal(cache.revision, 7);
  assert.equal(await waiting, true);
  cache.applyWatch([{ type: 'Put', kv: kv('/p/services/web/b', inst('web', 'b'), 6, 6, '1a') }], 7); // a resumed watch replays
  cache.noteLocalDelete('/p/services/web/a', 'deregistered by test');
  cache.applyWatch([
    { type: 'Delete', kv: kv('/p/services/web/a', '', 0, 8) },
    { type: 'Delete', kv: kv('/p/services/web/b', '', 0, 9, '0') },
    { type: 'Delete', kv: kv('/p/members/m1', '', 0, 10) },
  ], 10);
  assert.deepEqual(seen.map((e) => [e.type, e.index, e.type === 'remove' ? e.reason : e.instance.id]), [
    ['upsert', 6, 'b'],
    ['remove', 8, 'deregistered by test'],
    ['remove', 9, 'TTL lease expired in etcd (or deregistered through another daemon)'],
  ]);
  assert.equal(cache.list().length, 0);
  assert.equal(cache.members.size, 0);
  cache.applyWatch([], 15);
  assert.equal(cache.revision, 15, 'a progress notification moves the index');
  assert.equal(await cache.waitFor(99, 20), false);
});

test('a shared heartbeat time is no change: the instance keeps its modifyIndex and watchers hear nothing', () => {
  const key = '/p/services/web/a';
  const cache = new EtcdCache('/p');
  cache.load([kv(key, inst('web', 'a', { lastHeartbeat: 1_000 }), 2, 4)], 4);
  const seen: StoreEvent[] = [];
  cache.subscribe((e) => seen.push(e));
  // What EtcdStore writes for a heartbeat: the new time, and the revision of the last real change.
  const beat = (mod: number, at: number): KeyValueLike => ({ ...kv(key, '', 2, mod), value: encodeInstance(inst('web', 'a', { lastHeartbeat: at }), 4) });
  cache.applyWatch([{ type: 'Put', kv: beat(9, 6_000) }], 9);
  assert.equal(seen.length, 0, 'no event for a heartbeat time');
  assert.equal(cache.get('web', 'a')!.lastHeartbeat, 6_000, 'every daemon reads the shared time');
  assert.equal(cache.get('web', 'a')!.modifyIndex, 4);
  assert.equal(cache.entry(key)!.modRevision, 9, 'writes compare against the real mod revision');
  assert.equal('changeRevision' in cache.get('web', 'a')!, false);

  // A daemon that starts now reads the same modifyIndex, and a resync does not call the heartbeat a change.
  const fresh = decodeInstance(beat(9, 6_000), 'web', 'a')!;
  assert.equal(fresh.instance.modifyIndex, 4);
  assert.deepEqual(diffSnapshots(new Map([[key, cache.entry(key)!]]), new Map([[key, { ...fresh, modRevision: 12 }]]), 12), []);

  cache.applyWatch([{ type: 'Put', kv: kv(key, inst('web', 'a', { health: 'critical', lastHeartbeat: 6_000 }), 2, 11) }], 11);
  assert.deepEqual(seen.map((e) => [e.type, e.index, e.type === 'upsert' ? e.instance.modifyIndex : 0]), [['upsert', 11, 11]]);
});
