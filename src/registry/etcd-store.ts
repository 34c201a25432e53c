// The registry store on etcd, for a mesh that spans machines: every registry daemon pointed at the same etcd
// prefix serves the same instances. Writes go to etcd and resolve once this daemon's watch has applied them
// (so a caller reads its own write, and events stay in revision order); reads come from the watch-fed cache.
//
// Static stability: when etcd is out of reach the daemon keeps serving the cache read-only (status says so,
// writes answer 503 MESH_ERR_REGISTRY_READ_ONLY), probes etcd, and on its return resumes the watch from the
// last applied revision — or, if etcd compacted that revision away, re-reads everything and emits the
// difference — so no registration is lost and proxies keep routing on the last known state throughout.
//
// TTL instances are bound to an etcd lease of their TTL: a heartbeat (through any daemon) refreshes the lease,
// and when it runs out etcd deletes the key itself, with no daemon involved. The heartbeat time is shared the
// same way, so every daemon shows the same LAST HEARTBEAT: the daemon that receives a heartbeat writes its time
// into the key when the stored one is older than heartbeatShareMs (5 s, or TTL/2 if shorter). Such a write keeps
// the instance's modifyIndex and reaches no watcher (etcd-cache.ts): like a heartbeat on the embedded store, it
// is not a change. Active checks run on one daemon
// per service, chosen by rendezvous hashing over the live members (etcd-members.ts); `shouldCheck` says
// whether this daemon is that one. The watch, outage detection and catch-up live in etcd-connection.ts.
import { MeshError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { HealthCheckSpec, HealthState, Instance, InstanceSpec } from '../core/types.js';
import { EtcdCache } from './etcd-cache.js';
import {
  describeEtcdError, grantLease, isConnectivityError, keepAliveOnce, revokeLease, type EtcdConnectionOptions,
} from './etcd-client.js';
import { EtcdConnection } from './etcd-connection.js';
import { checkerFor, DEFAULT_ETCD_PREFIX, encodeInstance, instanceKey, normalizePrefix, type StoredInstance } from './etcd-keys.js';
import { newMemberId } from './etcd-members.js';
import type { StoreFactory } from './daemon.js';
import { hasActiveCheck, initialHealth, sameSpec, specOf } from './instance-spec.js';
import type { RegistryStore, StoreEvent, StoreStatus } from './store.js';
import type { Etcd3 } from 'etcd3';
import { EtcdTokenStore } from './identity/etcd-token-store.js';

export interface EtcdStoreOptions extends EtcdConnectionOptions {
  prefix?: string;
  log?: (line: string) => void;
  clock?: Clock;
  /** How long open() waits for etcd before giving up (ms). */
  openTimeoutMs?: number;
  /** Liveness probe interval while connected, retry interval while not (ms). */
  probeIntervalMs?: number;
  /** TTL of this daemon's membership lease (s): how long a dead daemon's checks stay unowned. */
  memberTtlSeconds?: number;
  memberId?: string;
  /** Shown to other members (e.g. the daemon's listen address). */
  memberInfo?: Record<string, string | number>;
}

/** The daemon's store factory for `mesh registry start --store etcd`. */
export function etcdStoreFactory(opts: EtcdStoreOptions): StoreFactory {
  return ({ clock, log }) => new EtcdStore({ ...opts, clock, log });
}

const ttlSecondsOf = (check?: HealthCheckSpec) => (check?.ttlMs ? Math.max(1, Math.ceil(check.ttlMs / 1000)) : 0);

/** The longest a shared heartbeat time may lag the newest heartbeat before it is written again. */
export const HEARTBEAT_SHARE_MS = 5_000;

/**
 * How stale the shared LAST HEARTBEAT may get: 5 s, or half the TTL when that is shorter, so a live TTL
 * instance never shows a last heartbeat older than its TTL. With the usual heartbeat every TTL/3 that is about
 * every second heartbeat written to etcd; the lease keep-alive still goes out on every one.
 */
export function heartbeatShareMs(check: HealthCheckSpec | undefined): number {
  return check?.ttlMs ? Math.min(HEARTBEAT_SHARE_MS, Math.max(500, check.ttlMs / 2)) : HEARTBEAT_SHARE_MS;
}

export class EtcdStore implements RegistryStore {
  readonly memberId: string;
  private readonly prefix: string;
  readonly tokens: EtcdTokenStore;
  private readonly endpointsText: string;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly cache: EtcdCache;
  private readonly link: EtcdConnection;

  constructor(private readonly opts: EtcdStoreOptions) {
    this.prefix = normalizePrefix(opts.prefix ?? DEFAULT_ETCD_PREFIX);
    this.tokens = new EtcdTokenStore(this.prefix, () => this.writable(), (what, call) => this.etcd(what, call));
    this.endpointsText = opts.endpoints.join(',');
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.memberId = opts.memberId ?? newMemberId();
    this.cache = new EtcdCache(this.prefix, (err) => this.log(`etcd store: a subscriber failed: ${err.message}`));
    this.link = new EtcdConnection({
      connection: opts, prefix: this.prefix, cache: this.cache, clock: this.clock, log: this.log,
      memberId: this.memberId, memberInfo: opts.memberInfo ?? {}, memberTtlSeconds: opts.memberTtlSeconds ?? 5,
      openTimeoutMs: opts.openTimeoutMs ?? 4_000, probeIntervalMs: opts.probeIntervalMs ?? 1_000,
    });
  }

  private get available(): boolean { return this.link.available; }

  async open(): Promise<void> {
    await this.link.open();
    this.log(`etcd store: connected to ${this.endpointsText}, prefix ${this.prefix}/, ${this.cache.size} instances at revision ${this.cache.revision}, member ${this.memberId}`);
  }

  async close(): Promise<void> {
    if (this.link.isClosing) return;
    this.cache.releaseWaiters();
    await this.link.close();
  }

  status(): StoreStatus {
    return {
      kind: 'etcd',
      index: this.cache.revision,
      readOnly: !this.available,
      ...(this.link.reason && !this.available ? { reason: this.link.reason } : {}),
      details: {
        endpoints: this.endpointsText,
        prefix: `${this.prefix}/`,
        revision: this.cache.revision,
        connected: this.available,
        instances: this.cache.size,
        member: this.memberId,
        members: this.cache.members.size,
        ...(this.available ? {} : { unreachableForMs: Math.round(this.clock.monotonic() - this.link.lostAt) }),
      },
    };
  }

  currentIndex(): number { return this.cache.revision; }
  list(): Instance[] { return this.cache.list(); }
  listService(service: string): Instance[] { return this.cache.listService(service); }
  get(service: string, id: string): Instance | undefined { return this.cache.get(service, id); }
  subscribe(listener: (event: StoreEvent) => void): () => void { return this.cache.subscribe(listener); }

  /** Whether this daemon runs the active checks of `service` (one live daemon per service does). */
  shouldCheck(service: string): boolean {
    return this.available && checkerFor(service, this.cache.members) === this.memberId;
  }

  /** etcd expires TTL instances (leases); active checks run only where shouldCheck says so. */
  healthPolicy(): { ttlByStore: boolean; shouldCheck: (service: string) => boolean } {
    return { ttlByStore: true, shouldCheck: (service) => this.shouldCheck(service) };
  }

  async upsert(raw: InstanceSpec): Promise<Instance> {
    const spec = specOf(raw);
    const key = instanceKey(this.prefix, spec.service, spec.id);
    const client = this.writable();
    const was = this.cache.entry(key);
    const prev = was?.instance;
    if (prev && sameSpec(prev, spec)) {
      // Idempotent re-registration: no write, no event, health kept; it does renew a TTL instance's lease.
      if (was.lease === '0') return prev;
      const ttl = await this.etcd('renew the TTL lease', () => keepAliveOnce(client, was.lease));
      if (ttl > 0) return prev;
      return this.upsertFresh(spec, key, undefined); // the lease ran out just now: register it anew
    }
    return this.upsertFresh(spec, key, was);
  }

  async remove(service: string, id: string, reason: string): Promise<boolean> {
    const client = this.writable();
    const key = instanceKey(this.prefix, service, id);
    const lease = this.cache.entry(key)?.lease ?? '0';
    this.cache.noteLocalDelete(key, reason);
    const res = await this.etcd('deregister', () => client.kv.deleteRange({ key: Buffer.from(key) }));
    if (Number(res.deleted) === 0) return false;
    if (lease !== '0') await revokeLease(client, lease).catch(() => {}); // the lease bound only this key
    await this.cache.waitFor(Number(res.header.revision), 5_000);
    return true;
  }

  setHealth(service: string, id: string, health: HealthState, output?: string): Promise<Instance | undefined> {
    return this.changeHealth(service, id, health, output, health === 'passing');
  }

  async heartbeat(service: string, id: string, health?: HealthState, output?: string): Promise<Instance | undefined> {
    const client = this.writable();
    const key = instanceKey(this.prefix, service, id);
    const was = this.cache.entry(key);
    if (!was) return undefined;
    if (was.lease !== '0') {
      const ttl = await this.etcd('heartbeat', () => keepAliveOnce(client, was.lease));
      if (ttl <= 0) return undefined; // the lease ran out: etcd has deleted (or is deleting) the instance
    }
    const inst = was.instance;
    // A bare heartbeat renews a TTL; it does not override an active check's verdict.
    const keep = health === undefined && hasActiveCheck(inst.check);
    return this.changeHealth(service, id, keep ? inst.health : health ?? 'passing', keep ? inst.healthOutput : output, true);
  }

  private async upsertFresh(spec: InstanceSpec, key: string, was: ReturnType<EtcdCache['entry']>): Promise<Instance> {
    const client = this.writable();
    const prev = was?.instance;
    const now = this.clock.now();
    const health = initialHealth(prev, spec, now);
    const stored: StoredInstance = { ...spec, ...health, registeredAt: prev?.registeredAt ?? now };
    const ttl = ttlSecondsOf(spec.check);
    const lease = ttl > 0 ? await this.etcd('grant a TTL lease', () => grantLease(client, ttl)) : '0';
    let res;
    try {
      res = await this.etcd('register', () => client.kv.put({ key: Buffer.from(key), value: encodeInstance(stored), lease }));
    } catch (err) {
      if (lease !== '0') void revokeLease(client, lease).catch(() => {});
      throw err;
    }
    // The key has moved to the new lease (or to none), so the old lease binds nothing any more.
    if (was && was.lease !== '0' && was.lease !== lease) void revokeLease(client, was.lease).catch(() => {});
    return this.applied(key, Number(res.header.revision), stored, prev?.createIndex);
  }

  /** Writes a health change back with compare-and-swap on the key's mod revision, retrying on a race. */
  private async changeHealth(service: string, id: string, health: HealthState, output: string | undefined, beat: boolean): Promise<Instance | undefined> {
    const key = instanceKey(this.prefix, service, id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const client = this.writable();
      const was = this.cache.entry(key);
      if (!was) return undefined;
      const prev = was.instance;
      const now = this.clock.now();
      const sameVerdict = prev.health === health && prev.healthOutput === output;
      // Same verdict: only the heartbeat time may move. It is shared through etcd, so every daemon shows the same
      // LAST HEARTBEAT, but at a bounded rate: written when the shared one is older than heartbeatShareMs.
      if (sameVerdict && !(beat && now - (prev.lastHeartbeat ?? 0) >= heartbeatShareMs(prev.check))) return prev;
      const { createIndex: _c, modifyIndex: _m, ...rest } = prev;
      const stored: StoredInstance = {
        ...rest, health, healthOutput: output,
        lastHeartbeat: beat ? now : prev.lastHeartbeat,
        criticalSince: health !== 'critical' ? undefined : prev.health === 'critical' ? prev.criticalSince : now,
      };
      const bkey = Buffer.from(key);
      const value = encodeInstance(stored, sameVerdict ? prev.modifyIndex : undefined);
      const res = await this.etcd(sameVerdict ? 'record a heartbeat' : 'record health', () => client.kv.txn({
        compare: [{ key: bkey, target: 'Mod', result: 'Equal', mod_revision: was.modRevision }],
        success: [{ request_put: { key: bkey, value, lease: was.lease } }],
      }));
      if (res.succeeded) return this.applied(key, Number(res.header.revision), stored, prev.createIndex);
      // Someone else changed it first: wait until our cache has their change, then decide again.
      await this.cache.waitFor(Number(res.header.revision), 2_000);
    }
    throw new MeshError('MESH_ERR_INTERNAL', `health of ${service}/${id} kept changing under concurrent writers; try again`);
  }

  /** Waits for the watch to apply a write, so the caller reads its own write; falls back to the written value. */
  private async applied(key: string, revision: number, stored: StoredInstance, createIndex: number | undefined): Promise<Instance> {
    await this.cache.waitFor(revision, 5_000);
    const cached = this.cache.entry(key);
    if (cached && cached.modRevision >= revision) return cached.instance;
    return { ...stored, createIndex: createIndex ?? revision, modifyIndex: revision } as Instance;
  }

  private writable(): Etcd3 {
    if (this.link.isClosing || !this.link.client) throw new MeshError('MESH_ERR_REGISTRY_READ_ONLY', 'the registry is shutting down');
    if (!this.available) {
      throw new MeshError('MESH_ERR_REGISTRY_READ_ONLY', `the registry is read-only: ${this.link.reason ?? 'etcd is unreachable'}; writes resume when etcd returns`);
    }
    return this.link.client;
  }

  /** Runs one etcd call, turning its failure into the MeshError a caller should see. */
  private async etcd<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isConnectivityError(err)) {
        this.link.lost(err);
        throw new MeshError('MESH_ERR_REGISTRY_READ_ONLY', `the registry is read-only: ${this.link.reason}; writes resume when etcd returns`, { cause: err });
      }
      throw new MeshError('MESH_ERR_ETCD_UNAVAILABLE', `etcd at ${this.endpointsText} refused to ${what}: ${describeEtcdError(err)}`, { cause: err });
    }
  }
}
