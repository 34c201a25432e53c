// A daemon's in-memory copy of the registry's part of etcd, kept current by one watch on the prefix. Reads are
// served from here (also while etcd is out of reach), and every change the watch delivers becomes exactly one
// store event whose index is the etcd revision of that change.
import type { Instance } from '../../../core/types.js';
import {
  cachedInstance, decodeInstance, diffSnapshots, parseKey, type CachedInstance, type KeyValueLike, type StoredInstance,
} from './keys.js';
import type { StoreEvent } from '../store.js';
import { ByService } from '../../catalogue/by-service.js';
import type { EtcdConfigCache } from '../../config/etcd-config.js';

/** The fields of an etcd watch event this cache reads. */
export interface WatchEventLike { type: 'Put' | 'Delete' | string; kv: KeyValueLike }

/**
 * A write this daemon sent: when the watch brings back exactly these bytes under this key, the cache takes the
 * object the write was encoded from instead of parsing the JSON again (same bytes, same instance).
 */
export interface OwnWrite { value: Buffer; stored: StoredInstance; changeRevision: number | undefined }

interface Waiter { revision: number; promise: Promise<boolean>; resolve: (caught: boolean) => void; timer: NodeJS.Timeout }
const CAUGHT_UP = Promise.resolve(true);

export class EtcdCache {
  /** The newest revision whose changes have all been applied: the registry's index. */
  revision = 0;
  private readonly byKey = new Map<string, CachedInstance>();
  private readonly byService = new ByService<Instance>();
  readonly members = new Set<string>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  /** Why this daemon deleted a key, so the remove event carries the caller's reason. */
  private readonly localReasons = new Map<string, string>();
  /**
   * Callers waiting for a revision, one entry per (revision, timeout): every write of one etcd transaction
   * waits for the same revision, so they share one promise and one timer instead of one each.
   */
  private readonly waiters = new Map<string, Waiter>();
  /** This daemon's writes in flight, by key (see OwnWrite). */
  private readonly ownWrites = new Map<string, OwnWrite>();

  /** Where config keys go (src/registry/config/etcd-config.ts); set by the store. */
  configSink: EtcdConfigCache | undefined;

  constructor(private readonly prefix: string, private readonly onListenerError: (err: Error) => void = () => {}) {}

  get size(): number { return this.byKey.size; }

  entry(key: string): CachedInstance | undefined { return this.byKey.get(key); }

  get(service: string, id: string): Instance | undefined { return this.byService.get(service, id); }

  list(): Instance[] { return this.byService.sortedAll(); }

  listService(service: string): Instance[] { return this.byService.sorted(service) ?? []; }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  noteLocalDelete(key: string, reason: string): void { this.localReasons.set(key, reason); }

  /** Registers a write about to be sent; the store calls forgetOwnWrite once the write is settled either way. */
  expectOwnWrite(key: string, write: OwnWrite): void { this.ownWrites.set(key, write); }

  forgetOwnWrite(key: string, write: OwnWrite): void {
    if (this.ownWrites.get(key) === write) this.ownWrites.delete(key);
  }

  /**
   * Replaces the whole state with a range read taken at `revision`, emitting the difference as events (the
   * store loads before anyone subscribes, so only a resync's difference reaches subscribers).
   */
  load(kvs: readonly KeyValueLike[], revision: number): void {
    const next = new Map<string, CachedInstance>();
    this.members.clear();
    for (const kv of kvs) {
      const key = kv.key.toString('utf8');
      const parsed = parseKey(this.prefix, key);
      if (parsed?.kind === 'member') this.members.add(parsed.member);
      if (parsed?.kind !== 'instance') continue;
      const cached = decodeInstance(kv, parsed.service, parsed.id);
      if (cached) next.set(key, cached);
    }
    this.configSink?.load(kvs);
    const events = diffSnapshots(this.byKey, next, revision);
    this.byKey.clear();
    this.byService.clear();
    for (const [key, cached] of next) this.put(key, cached);
    this.advance(revision);
    for (const event of events) this.emit(event);
  }

  /** Applies one watch response's events (in revision order), then moves the index. */
  applyWatch(events: readonly WatchEventLike[], headerRevision: number): void {
    let newest = 0;
    for (const ev of events) {
      const key = ev.kv.key.toString('utf8');
      const revision = Number(ev.kv.mod_revision);
      newest = Math.max(newest, revision);
      const parsed = parseKey(this.prefix, key);
      if (parsed === undefined) {
        if (this.configSink?.owns(key)) this.configSink.apply(ev.type, ev.kv);
        continue;
      }
      if (parsed.kind === 'member') {
        if (ev.type === 'Put') this.members.add(parsed.member);
        else this.members.delete(parsed.member);
        continue;
      }
      const was = this.byKey.get(key);
      if (ev.type === 'Put') {
        if (was && was.modRevision >= revision) continue; // already applied (a resumed watch replays)
        const stored = this.ownEcho(key, ev.kv) ?? decodeInstance(ev.kv, parsed.service, parsed.id);
        if (!stored) continue;
        this.put(key, stored);
        // Only the shared heartbeat time moved (the instance keeps its modifyIndex): every read shows it, but
        // like a heartbeat on the embedded store it is not a change that watchers (proxies) hear of.
        if (was && was.instance.modifyIndex === stored.instance.modifyIndex) continue;
        this.emit({ type: 'upsert', index: revision, instance: stored.instance });
      } else if (was) {
        this.drop(key, was);
        const reason = this.localReasons.get(key)
          ?? (was.lease !== '0' ? 'TTL lease expired in etcd (or deregistered through another daemon)' : 'removed through another daemon (deregistered, or critical past deregister-after there)');
        this.localReasons.delete(key);
        this.emit({ type: 'remove', index: revision, service: parsed.service, id: parsed.id, reason });
      }
    }
    // An event-less response is a progress notification: nothing at or below its revision is still to come.
    this.advance(events.length === 0 ? headerRevision : newest);
  }

  /** Resolves true once the cache has applied `revision`, false after timeoutMs. */
  waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return CAUGHT_UP;
    const id = `${revision}/${timeoutMs}`;
    const shared = this.waiters.get(id);
    if (shared) return shared.promise;
    let resolve!: (caught: boolean) => void;
    const promise = new Promise<boolean>((r) => { resolve = r; });
    const timer = setTimeout(() => { this.waiters.delete(id); resolve(false); }, timeoutMs);
    this.waiters.set(id, { revision, promise, resolve, timer });
    return promise;
  }

  /** Releases every waiter (the store is closing). */
  releaseWaiters(): void {
    for (const w of this.waiters.values()) { clearTimeout(w.timer); w.resolve(false); }
    this.waiters.clear();
  }

  private advance(revision: number): void {
    if (revision <= this.revision) return;
    this.revision = revision;
    for (const [id, w] of this.waiters) {
      if (w.revision > revision) continue;
      this.waiters.delete(id);
      clearTimeout(w.timer);
      w.resolve(true);
    }
  }

  /** The cached form of this daemon's own write, when the watch brought back exactly its bytes. */
  private ownEcho(key: string, kv: KeyValueLike): CachedInstance | undefined {
    const own = this.ownWrites.get(key);
    if (own === undefined || !own.value.equals(kv.value)) return undefined;
    this.ownWrites.delete(key);
    return cachedInstance(own.stored, own.changeRevision, kv);
  }

  private put(key: string, cached: CachedInstance): void {
    this.byKey.set(key, cached);
    this.byService.set(cached.instance.service, cached.instance);
  }

  private drop(key: string, cached: CachedInstance): void {
    this.byKey.delete(key);
    this.byService.delete(cached.instance.service, cached.instance.id);
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err as Error);
      }
    }
  }
}
