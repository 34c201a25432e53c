// How the registry lays itself out in etcd, and how etcd's key-values map onto instances. Pure functions, so
// the layout, the revision mapping and the resync diff are unit-tested without an etcd.
//
//   <prefix>/services/<service>/<id>   one instance, JSON (the spec plus registry-maintained state); no lease
//                                      (keys written by an older mesh may still carry a lease of their own)
//   <prefix>/members/<member-id>       one live registry daemon, bound to that daemon's session lease; the
//                                      set of these keys decides which daemon runs which service's checks
//
// Registry indexes are etcd revisions: an instance's createIndex is its key's create_revision, its modifyIndex
// the key's mod_revision, and a remove event carries the revision of the delete. Service names and instance
// ids cannot contain '/', so the key splits unambiguously.
import { hashString } from '../../../core/hash.js';
import type { Instance } from '../../../core/types.js';
import type { StoreEvent } from '../store.js';

export const DEFAULT_ETCD_PREFIX = '/mesh/v1';

export function normalizePrefix(prefix: string): string {
  const p = `/${prefix.replace(/^\/+|\/+$/g, '')}`;
  return p === '/' ? '' : p;
}

export function servicesPrefix(prefix: string): string {
  return `${prefix}/services/`;
}

export function membersPrefix(prefix: string): string {
  return `${prefix}/members/`;
}

export function instanceKey(prefix: string, service: string, id: string): string {
  return `${servicesPrefix(prefix)}${service}/${id}`;
}

export function memberKey(prefix: string, member: string): string {
  return `${membersPrefix(prefix)}${member}`;
}

export type ParsedKey =
  | { kind: 'instance'; service: string; id: string }
  | { kind: 'member'; member: string }
  | undefined;

export function parseKey(prefix: string, key: string): ParsedKey {
  const sp = servicesPrefix(prefix);
  if (key.startsWith(sp)) {
    const rest = key.slice(sp.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) return undefined;
    return { kind: 'instance', service: rest.slice(0, slash), id: rest.slice(slash + 1) };
  }
  const mp = membersPrefix(prefix);
  if (key.startsWith(mp) && key.length > mp.length) return { kind: 'member', member: key.slice(mp.length) };
  return undefined;
}

/** The end of etcd's range for every key under `p` (p with its last byte incremented). */
export function prefixRangeEnd(p: string): Buffer {
  const b = Buffer.from(p);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** What is stored in an instance's value: everything but the indexes, which etcd itself keeps. */
export type StoredInstance = Omit<Instance, 'createIndex' | 'modifyIndex'>;

/**
 * The instance's value. `changeRevision` is given when a write only moves the heartbeat time: the value then
 * records the revision of the instance's last real change, which stays its modifyIndex (as on the embedded
 * store, a heartbeat is not a change), so every daemon, old or freshly started, reports the same modifyIndex.
 */
export function encodeInstance(instance: StoredInstance | Instance, changeRevision?: number): Buffer {
  // The registration path passes a StoredInstance: no copy then (JSON.stringify drops undefined, not present).
  const hasIndexes = (instance as Instance).createIndex !== undefined || (instance as Instance).modifyIndex !== undefined;
  let stored: object = instance;
  if (hasIndexes) { const { createIndex: _c, modifyIndex: _m, ...rest } = instance as Instance; stored = rest; }
  return Buffer.from(JSON.stringify(changeRevision === undefined ? stored : { ...stored, changeRevision }));
}

/** The fields of an etcd KeyValue this module reads (etcd3 gives int64s as decimal strings). */
export interface KeyValueLike {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  lease: string;
}

/** An instance as cached by a daemon, with the etcd facts needed to write it back. */
export interface CachedInstance {
  instance: Instance;
  /** Lease ID ("0" when none). */
  lease: string;
  modRevision: number;
}

/** Decodes an instance key-value; undefined when the value is not a valid instance (then it is ignored). */
export function decodeInstance(kv: KeyValueLike, service: string, id: string): CachedInstance | undefined {
  let stored: StoredInstance & { changeRevision?: unknown };
  try {
    stored = JSON.parse(kv.value.toString('utf8')) as StoredInstance;
  } catch {
    return undefined;
  }
  if (stored === null || typeof stored !== 'object' || stored.service !== service || stored.id !== id || typeof stored.address !== 'string') return undefined;
  return cachedInstance(stored, stored.changeRevision, kv);
}

/**
 * The cached form of a stored instance: a copy without undefined fields (what a JSON round trip through
 * etcd yields), its indexes from the key-value. Shared by decodeInstance and the cache's path for this daemon's
 * own writes, which has the object already and so skips the parse. Undefined fields are left out of a new object
 * rather than deleted: `delete` turns a V8 object into a dictionary, which with 10,000 instances costs MiBs.
 * Not frozen either: in the running daemon Object.freeze gave every cached instance's tags and check objects maps
 * of their own (V8 shares a frozen map only while no field representation has generalized), 2.8 MiB of maps and
 * descriptor arrays per 10,000 instances (heap snapshots, bench:registry). A cached instance is a value all the
 * same: nothing writes to one; a change makes a new object.
 */
export function cachedInstance(stored: StoredInstance & { changeRevision?: unknown }, changeRevision: unknown, kv: KeyValueLike): CachedInstance {
  const modRevision = Number(kv.mod_revision);
  const inst: Record<string, unknown> = {};
  for (const k in stored) {
    const v = (stored as unknown as Record<string, unknown>)[k];
    if (v === undefined || k === 'changeRevision') continue;
    inst[k] = (k === 'tags' || k === 'check') && v !== null && typeof v === 'object' ? withoutUndefined(v as Record<string, unknown>) : v;
  }
  inst.createIndex = Number(kv.create_revision);
  inst.modifyIndex = typeof changeRevision === 'number' ? changeRevision : modRevision;
  return { instance: inst as unknown as Instance, lease: kv.lease && kv.lease !== '' ? String(kv.lease) : '0', modRevision };
}

/** `o` itself when it has no undefined field (always, for a parsed value), else a copy without them. */
function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  let clean = true;
  for (const k in o) if (o[k] === undefined) { clean = false; break; }
  if (clean) return o;
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * The events that bring a cache from `before` to `after` (a full range read), all at `revision`: upserts for
 * new or changed instances (by modifyIndex, which a heartbeat time does not move), removes for vanished ones. Used after a watch could not resume
 * (its revision was compacted), so subscribers still see every difference. Ordered by key for determinism.
 */
export function diffSnapshots(
  before: ReadonlyMap<string, CachedInstance>,
  after: ReadonlyMap<string, CachedInstance>,
  revision: number,
): StoreEvent[] {
  const events: StoreEvent[] = [];
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  for (const key of keys) {
    const was = before.get(key);
    const now = after.get(key);
    if (now !== undefined && (was === undefined || was.instance.modifyIndex !== now.instance.modifyIndex)) {
      events.push({ type: 'upsert', index: revision, instance: now.instance });
    } else if (now === undefined && was !== undefined) {
      events.push({ type: 'remove', index: revision, service: was.instance.service, id: was.instance.id, reason: 'removed while etcd was out of reach' });
    }
  }
  return events;
}

/**
 * Which live daemon runs a service's active checks: rendezvous (highest-random-weight) hashing over the member
 * IDs. Every daemon computes the same answer from the same member set, a service moves only when its owner
 * joins or leaves, and services spread evenly across daemons.
 */
export function checkerFor(service: string, members: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = hashString(`${m}\u0000${service}`);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}
