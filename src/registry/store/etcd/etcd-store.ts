// The registry store on etcd, for a mesh that spans machines: every registry daemon pointed at the same etcd
// prefix serves the same instances. Writes go to etcd and resolve once this daemon's watch has applied them
// (so a caller reads its own write, and events stay in revision order); reads come from the watch-fed cache.
//
// Static stability: when etcd is out of reach the daemon keeps serving the cache read-only (status says so,
// writes answer 503 MESH_ERR_REGISTRY_READ_ONLY), probes etcd, and on its return resumes the watch from the
// last applied revision — or, if etcd compacted that revision away, re-reads everything and emits the
// difference — so no registration is lost and proxies keep routing on the last known state throughout.
//
// TTL instances are expired by the registry daemons, as on the embedded store, not by etcd leases: the daemon
// that runs a service's checks (below) turns an instance whose TTL ran out critical, and removes it once it has
// been critical for its deregister-after, so both stores show an expired instance the same way. The trade-off,
// decided for speed and for one behaviour on both stores: with per-instance leases a registration cost a lease
// grant plus a put and every heartbeat a keep-alive round trip, and a key vanished at expiry without a critical
// step; now a registration is one put that shares a transaction with concurrent writes (batch.ts), and no
// lease is needed per instance. What is given up: while no registry daemon runs at all, no TTL expires (as with a
// stopped embedded registry); the first daemon back counts TTLs from its start. Expiry also counts from when the
// store last became writable, or since etcd last elected a leader (a new raft term), since heartbeats cannot land
// while etcd is out of reach or electing — etcd extends every lease after a leader change for the same reason. Keys written by an older mesh with a lease of their own keep
// it until re-registered; a heartbeat still renews it.
//
// The heartbeat time is shared through etcd, so every daemon shows the same LAST HEARTBEAT and the checking daemon
// sees heartbeats received by any daemon: the daemon that receives a heartbeat writes its time into the key when
// the stored one is older than heartbeatShareMs (5 s, or TTL/2 if shorter). Such a write keeps
// the instance's modifyIndex and reaches no watcher (cache.ts): like a heartbeat on the embedded store, it
// is not a change. Active checks run on one daemon
// per service, chosen by rendezvous hashing over the live members (etcd-members.ts); `shouldCheck` says
// whether this daemon is that one. The watch, outage detection and catch-up live in connection.ts.
import { MeshError } from '../../../core/errors.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import type { HealthCheckSpec, HealthState, Instance, InstanceSpec } from '../../../core/types.js';
import { EtcdCache } from './cache.js';
import { WriteBatcher, type BatchResult, type BatchWrite } from './batch.js';
import {
  describeEtcdError, isConnectivityError, keepAliveOnce, revokeLease, type EtcdConnectionOptions,
} from './client.js';
import { EtcdConnection } from './connection.js';
import { checkerFor, DEFAULT_ETCD_PREFIX, encodeInstance, instanceKey, normalizePrefix, type StoredInstance } from './keys.js';
import { newMemberId } from './members.js';
import type { StoreFactory } from '../../daemon.js';
import { hasActiveCheck, initialHealth, sameSpec, specOf } from '../../catalogue/instance-spec.js';
import type { HealthPolicy, RegistryStore, StoreEvent, StoreStatus } from '../store.js';
import type { Etcd3 } from 'etcd3';
import type { CentralConfig } from '../../../config/central.js';
import { EMPTY_CENTRAL } from '../../../config/central.js';
import { casConfig, configRaceError, EtcdConfigCache } from '../../config/etcd-config.js';
import type { ConfigHistory, ConfigVersion } from '../../config/history.js';
import { EtcdTokenStore } from '../../identity/etcd-token-store.js';

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
  private readonly configCache: EtcdConfigCache;
  private readonly batcher: WriteBatcher;

  constructor(private readonly opts: EtcdStoreOptions) {
    this.prefix = normalizePrefix(opts.prefix ?? DEFAULT_ETCD_PREFIX);
    this.tokens = new EtcdTokenStore(this.prefix, () => this.writable(), (what, call) => this.etcd(what, call));
    this.endpointsText = opts.endpoints.join(',');
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.memberId = opts.memberId ?? newMemberId();
    this.cache = new EtcdCache(this.prefix, (err) => this.log(`etcd store: a subscriber failed: ${err.message}`));
    this.configCache = new EtcdConfigCache(this.prefix, (err) => this.log(`etcd store: a config subscriber failed: ${err.message}`));
    this.cache.configSink = this.configCache;
    this.link = new EtcdConnection({
      connection: opts, prefix: this.prefix, cache: this.cache, clock: this.clock, log: this.log,
      memberId: this.memberId, memberInfo: opts.memberInfo ?? {}, memberTtlSeconds: opts.memberTtlSeconds ?? 5,
      openTimeoutMs: opts.openTimeoutMs ?? 4_000, probeIntervalMs: opts.probeIntervalMs ?? 1_000,
    });
    this.batcher = new WriteBatcher((req) => this.writable().kv.txn(req));
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

  get config(): ConfigHistory { return this.configCache.history; }

  async updateConfig(change: string, next: (current: CentralConfig) => CentralConfig | undefined): Promise<ConfigVersion | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const client = this.writable();
      const current = this.config.current();
      const config = next(current?.config ?? EMPTY_CENTRAL);
      if (config === undefined) return current;
      const { ok, revision } = await this.etcd('write the config', () => casConfig(client, this.prefix, this.configCache, change, config, this.clock.now()));
      if (ok) {
        await this.cache.waitFor(revision, 5_000);
        return this.config.get(revision) ?? { version: revision, at: this.clock.now(), change, config };
      }
      // Another daemon wrote first: wait until this cache has its version, then build on it.
      await this.cache.waitFor(revision, 2_000);
    }
    throw configRaceError();
  }

  /** Whether this daemon runs the active checks of `service` (one live daemon per service does). */
  shouldCheck(service: string): boolean {
    return this.available && checkerFor(service, this.cache.members) === this.memberId;
  }

  /**
   * TTL expiry, active checks and removals run only where shouldCheck says so, and count from when etcd last
   * became writable here (see the header).
   */
  healthPolicy(): HealthPolicy {
    return {
      ttlByStore: false,
      shouldCheck: (service) => this.shouldCheck(service),
      expiryFloor: () => this.link.writableSince,
      // The shared heartbeat time lags the newest heartbeat by up to heartbeatShareMs (it is not rewritten more
      // often): expire that much later, so a live instance is never expired for the lag; a dead one goes at most
      // that much after its TTL.
      ttlSlackMs: (inst) => heartbeatShareMs(inst.check),
    };
  }

  async upsert(raw: InstanceSpec): Promise<Instance> {
    const spec = specOf(raw);
    const key = instanceKey(this.prefix, spec.service, spec.id);
    this.writable();
    const was = this.cache.entry(key);
    const prev = was?.instance;
    // Idempotent re-registration: no write, no event, health kept. A key with a lease of its own (written by an
    // older mesh) is written anew instead, which moves it off that lease.
    if (prev && was.lease === '0' && sameSpec(prev, spec)) return prev;
    const now = this.clock.now();
    const health = initialHealth(prev, spec, now);
    const stored: StoredInstance = { ...spec, ...health, registeredAt: prev?.registeredAt ?? now };
    return this.writeInstance('register', key, stored, undefined, { lease: '0' }, (res) => {
      if (was && was.lease !== '0') this.revokeQuietly(was.lease);
      return this.applied(key, res.revision, stored, prev?.createIndex);
    });
  }

  /**
   * Writes an instance's value (encoded once, here) and runs `then` on the result while the cache still expects
   * the write back: the watch's echo of these bytes is cached from `stored` without parsing them again.
   */
  private async writeInstance<T>(what: string, key: string, stored: StoredInstance, changeRevision: number | undefined,
    how: { lease: string; ifModRevision?: number }, then: (res: BatchResult) => Promise<T>): Promise<T> {
    const own = { value: encodeInstance(stored, changeRevision), stored, changeRevision };
    this.cache.expectOwnWrite(key, own);
    try {
      return await then(await this.write(what, { key, value: own.value, lease: how.lease, ifModRevision: how.ifModRevision }));
    } finally {
      this.cache.forgetOwnWrite(key, own);
    }
  }

  async remove(service: string, id: string, reason: string, stillDue?: (current: Instance) => boolean): Promise<boolean> {
    const key = instanceKey(this.prefix, service, id);
    for (let attempt = 0; attempt < 5; attempt++) {
      this.writable();
      const was = this.cache.entry(key);
      if (stillDue && (!was || !stillDue(was.instance))) return false;
      this.cache.noteLocalDelete(key, reason);
      // A guarded remove is a compare-and-swap on what the decision saw; a deregistration deletes whatever is there.
      const res = await this.write('deregister', { key, ...(stillDue ? { ifModRevision: was!.modRevision } : {}) });
      if (!res.succeeded) { await this.cache.waitFor(res.revision, 2_000); continue; }
      if (res.deleted === 0) return false;
      if (was && was.lease !== '0') this.revokeQuietly(was.lease);
      await this.cache.waitFor(res.revision, 5_000);
      return true;
    }
    return false;
  }

  setHealth(service: string, id: string, health: HealthState, output?: string, stillDue?: (current: Instance) => boolean): Promise<Instance | undefined> {
    return this.changeHealth(service, id, health, output, health === 'passing', stillDue);
  }

  async heartbeat(service: string, id: string, health?: HealthState, output?: string): Promise<Instance | undefined> {
    const client = this.writable();
    const key = instanceKey(this.prefix, service, id);
    const was = this.cache.entry(key);
    if (!was) return undefined;
    if (was.lease !== '0') {
      // A key with a lease of its own (written by an older mesh): renew it, so it is not deleted under us.
      const ttl = await this.etcd('heartbeat', () => keepAliveOnce(client, was.lease));
      if (ttl <= 0) return undefined;
    }
    const inst = was.instance;
    // A bare heartbeat renews a TTL (and so heals a TTL expiry); it does not override an active check's verdict.
    const keep = health === undefined && hasActiveCheck(inst.check);
    return this.changeHealth(service, id, keep ? inst.health : health ?? 'passing', keep ? inst.healthOutput : output, true);
  }

  /** Writes a health change back with compare-and-swap on the key's mod revision, retrying on a race. */
  private async changeHealth(service: string, id: string, health: HealthState, output: string | undefined, beat: boolean, stillDue?: (current: Instance) => boolean): Promise<Instance | undefined> {
    const key = instanceKey(this.prefix, service, id);
    for (let attempt = 0; attempt < 5; attempt++) {
      this.writable();
      const was = this.cache.entry(key);
      if (!was) return undefined;
      const prev = was.instance;
      if (stillDue && !stillDue(prev)) return prev;
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
      const done = await this.writeInstance(sameVerdict ? 'record a heartbeat' : 'record health', key, stored, sameVerdict ? prev.modifyIndex : undefined,
        { lease: was.lease, ifModRevision: was.modRevision }, async (res) => {
          if (res.succeeded) return this.applied(key, res.revision, stored, prev.createIndex);
          // Someone else changed it first: wait until our cache has their change, then decide again.
          await this.cache.waitFor(res.revision, 2_000);
          return undefined;
        });
      if (done) return done;
    }
    throw new MeshError('MESH_ERR_INTERNAL', `health of ${service}/${id} kept changing under concurrent writers; try again`);
  }

  /**
   * One instance write, sent in the next shared transaction (batch.ts). Promise callbacks rather than an async
   * wrapper: this is every registration's path, and each async layer is a promise and a microtask more.
   */
  private write(what: string, write: BatchWrite): Promise<BatchResult> {
    return this.batcher.write(write).then((res) => { this.link.noteTerm(res.term); return res; }, (err: unknown) => { throw this.failure(what, err); });
  }

  private revokeQuietly(lease: string): void {
    const client = this.link.client;
    if (client) void revokeLease(client, lease).catch(() => {});
  }

  /** Waits for the watch to apply a write, so the caller reads its own write; falls back to the written value. */
  private async applied(key: string, revision: number, stored: StoredInstance, createIndex: number | undefined): Promise<Instance> {
    // etcd committed the write, so the watch owes us its event. A watch that does not deliver it within 2 s is
    // stuck (typically on a frozen or partitioned member, whose stream stays open): move it to another member.
    if (!(await this.cache.waitFor(revision, 2_000))) {
      this.link.watchStalled(revision);
      await this.cache.waitFor(revision, 3_000);
    }
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
      throw this.failure(what, err);
    }
  }

  /** The MeshError a caller sees for a failed etcd call; a lost connection also makes the store read-only. */
  private failure(what: string, err: unknown): MeshError {
    if (isConnectivityError(err)) {
      this.link.lost(err);
      return new MeshError('MESH_ERR_REGISTRY_READ_ONLY', `the registry is read-only: ${this.link.reason}; writes resume when etcd returns`, { cause: err });
    }
    return new MeshError('MESH_ERR_ETCD_UNAVAILABLE', `etcd at ${this.endpointsText} refused to ${what}: ${describeEtcdError(err)}`, { cause: err });
  }
}
