// The registry's storage seam. The daemon's API and health monitor talk only to this interface, so the
// embedded journal store and the etcd store are interchangeable (`mesh registry start --store …`).
import type { CentralConfig } from '../../config/central.js';
import type { HealthState, Instance, InstanceSpec, WatchEvent } from '../../core/types.js';
import type { ConfigHistory, ConfigVersion } from '../config/history.js';
import type { TokenStore } from '../identity/token-store.js';

export interface StoreStatus {
  kind: 'embedded' | 'etcd';
  /** Current index (embedded: monotonically increasing change counter; etcd: the revision). */
  index: number;
  /** True when writes are refused (etcd unreachable); reads serve the last known state. */
  readOnly: boolean;
  /** Why the store is read-only or degraded. */
  reason?: string;
  /** Extra facts for `mesh registry status` (data dir, journal size, etcd endpoints …). */
  details: Record<string, string | number | boolean>;
}

/** The change events a store emits: every successful write emits exactly one, in index order. */
export type StoreEvent = Extract<WatchEvent, { type: 'upsert' | 'remove' }>;

export interface RegistryStore {
  /** Loads durable state (journal replay / etcd sync). Rejects with a MeshError if it cannot. */
  open(): Promise<void>;
  /** Flushes and releases (locks, leases, timers). */
  close(): Promise<void>;
  status(): StoreStatus;
  currentIndex(): number;
  /** Snapshot of every instance, sorted by service then id. */
  list(): Instance[];
  /** Snapshot of one service's instances, sorted by id (empty if unknown). */
  listService(service: string): Instance[];
  get(service: string, id: string): Instance | undefined;
  /**
   * Creates or replaces an instance (idempotent PUT). Resolves only once the change is durable.
   * Re-registering an unchanged spec keeps the health state and emits no event.
   */
  upsert(spec: InstanceSpec): Promise<Instance>;
  /**
   * Removes an instance; resolves false if it did not exist. Durable before it resolves. `stillDue`, when given,
   * is asked about the state the remove replaces and vetoes it by returning false (then: resolves false): a
   * decision taken on a stale copy (a daemon just woken from a freeze) is re-checked on the current state.
   */
  remove(service: string, id: string, reason: string, stillDue?: (current: Instance) => boolean): Promise<boolean>;
  /**
   * Records a health state maintained by the registry (check result, TTL expiry). Durable when it changes.
   * `stillDue` as for remove: when it vetoes, the instance is returned unchanged.
   */
  setHealth(service: string, id: string, health: HealthState, output?: string, stillDue?: (current: Instance) => boolean): Promise<Instance | undefined>;
  /** Records a heartbeat (TTL refresh); not journaled unless the health state changes. */
  heartbeat(service: string, id: string, health?: HealthState, output?: string): Promise<Instance | undefined>;
  /** Subscribes to changes after the current index. Returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /**
   * How the daemon's health monitor should share work with other daemons on the same store (etcd): whether the
   * store expires TTLs itself, and which services this daemon checks. Absent: the monitor does everything.
   */
  healthPolicy?(): HealthPolicy;

  // --- central config (src/registry/config/) ---
  /** The kept versions of the central config; the newest is the one in force. Read-only for callers. */
  readonly config: ConfigHistory;
  /**
   * Writes a new config version computed from the one in force, durably, and resolves with it. `next` may throw
   * (nothing is written) or return undefined (no change: resolves with the version in force, or undefined).
   * Concurrent updates never lose one another (embedded: serialised; etcd: compare-and-swap, then retried).
   */
  updateConfig(change: string, next: (current: CentralConfig) => CentralConfig | undefined): Promise<ConfigVersion | undefined>;
  /** Bootstrap tokens of the identity API (hashes only), kept as durably as the instances. */
  readonly tokens: TokenStore;
}

export interface HealthPolicy {
  /** The store expires TTL instances itself, so the monitor must not. */
  ttlByStore: boolean;
  shouldCheck: (service: string) => boolean;
  /**
   * The earliest wall-clock time TTLs and deregister-after may count from: when the store last became writable.
   * Heartbeats cannot land while the store refuses writes, so an outage must not expire the instances it hid.
   */
  expiryFloor?: () => number;
  /**
   * How late the store's copy of an instance's last heartbeat may be (ms): a TTL expires only that much after
   * TTL, so a heartbeat that landed but was not yet recorded never expires a live instance.
   */
  ttlSlackMs?: (inst: Instance) => number;
}
