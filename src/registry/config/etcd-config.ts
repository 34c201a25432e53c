// The central config on etcd, next to the instances under the registry's prefix:
//
//   <prefix>/config/current                  the version in force: {at, change, config}; its version is the
//                                            key's mod revision
//   <prefix>/config/history/<version>        an older version (20-digit zero-padded, so keys sort by version)
//
// A write is one transaction: compare the current key's mod revision with the version the writer built on, put
// the new current, move the old one under history/ and delete history keys beyond the kept window. A writer
// that lost the race (another daemon wrote first) waits for its cache to see the winner and tries again, so
// no update is lost. Every daemon's cache is fed by its prefix watch (store/etcd/cache.ts hands config keys here).
import type { Etcd3 } from 'etcd3';
import type { CentralConfig } from '../../config/central.js';
import { MeshError } from '../../core/errors.js';
import type { KeyValueLike } from '../store/etcd/keys.js';
import { ConfigHistory, type ConfigVersion } from './history.js';

interface StoredVersion { at: number; change: string; config: CentralConfig }

const currentKey = (prefix: string) => `${prefix}/config/current`;
const historyPrefix = (prefix: string) => `${prefix}/config/history/`;
const historyKey = (prefix: string, version: number) => `${historyPrefix(prefix)}${String(version).padStart(20, '0')}`;

function decode(kv: KeyValueLike, version: number): ConfigVersion | undefined {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as StoredVersion;
    if (typeof v?.at !== 'number' || typeof v.change !== 'string' || typeof v.config !== 'object' || v.config === null) return undefined;
    return { version, at: v.at, change: v.change, config: v.config };
  } catch {
    return undefined;
  }
}

const encode = (v: StoredVersion): Buffer => Buffer.from(JSON.stringify(v));

/** The config part of a daemon's etcd cache. */
export class EtcdConfigCache {
  readonly history: ConfigHistory;

  constructor(private readonly prefix: string, onListenerError: (err: Error) => void) {
    this.history = new ConfigHistory(onListenerError);
  }

  /** Whether `key` belongs to the config (the cache hands those here instead of parsing them as instances). */
  owns(key: string): boolean {
    return key.startsWith(`${this.prefix}/config/`);
  }

  /** A full range read (open or resync). */
  load(kvs: readonly KeyValueLike[]): void {
    const versions: ConfigVersion[] = [];
    for (const kv of kvs) {
      const v = this.versionOf(kv);
      if (v !== undefined) versions.push(v);
    }
    this.history.load(versions);
  }

  /** One watch event; deletes (history trimmed) need nothing: the window already dropped them. */
  apply(type: string, kv: KeyValueLike): void {
    if (type !== 'Put') return;
    const v = this.versionOf(kv);
    if (v !== undefined) this.history.add(v);
  }

  private versionOf(kv: KeyValueLike): ConfigVersion | undefined {
    const key = kv.key.toString('utf8');
    if (key === currentKey(this.prefix)) return decode(kv, Number(kv.mod_revision));
    if (key.startsWith(historyPrefix(this.prefix))) {
      const version = Number(key.slice(historyPrefix(this.prefix).length));
      return Number.isSafeInteger(version) && version > 0 ? decode(kv, version) : undefined;
    }
    return undefined;
  }
}

/**
 * One compare-and-swap attempt: writes `config` as the new current if the current is still `base`.
 * `ok` false: another writer moved it first; `revision` is then the store's revision to wait for.
 */
export async function casConfig(client: Etcd3, prefix: string, cache: EtcdConfigCache, change: string, config: CentralConfig, at: number): Promise<{ ok: boolean; revision: number }> {
  const base = cache.history.current();
  const key = Buffer.from(currentKey(prefix));
  const puts = [{ request_put: { key, value: encode({ at, change, config }) } }];
  const moves = base === undefined ? [] : [{ request_put: { key: Buffer.from(historyKey(prefix, base.version)), value: encode({ at: base.at, change: base.change, config: base.config }) } }];
  const trims = cache.history.beyondLimit(1).map((v) => ({ request_delete_range: { key: Buffer.from(historyKey(prefix, v.version)) } }));
  const compare = base === undefined
    ? [{ key, target: 'Create' as const, result: 'Equal' as const, create_revision: '0' }]
    : [{ key, target: 'Mod' as const, result: 'Equal' as const, mod_revision: String(base.version) }];
  const res = await client.kv.txn({ compare, success: [...puts, ...moves, ...trims] });
  return { ok: res.succeeded, revision: Number(res.header.revision) };
}

export function configRaceError(): MeshError {
  return new MeshError('MESH_ERR_INTERNAL', 'the config kept changing under concurrent writers; try again');
}
