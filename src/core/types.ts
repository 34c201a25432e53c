// The shared vocabulary of mesh: instances as the registry stores them, and the updates discovery speaks in.

export type HealthState = 'passing' | 'warning' | 'critical';

/** How the registry decides an instance's health: a TTL the instance must heartbeat within, or an active check. */
export interface HealthCheckSpec {
  /** TTL check: the instance must heartbeat at least this often (ms). */
  ttlMs?: number;
  /** Active HTTP check: GET this URL, 2xx = passing, 429 = warning, anything else = critical. */
  http?: string;
  /** Active TCP check: connect to host:port. */
  tcp?: string;
  /** Active check interval (ms). */
  intervalMs?: number;
  /** Active check timeout (ms). */
  timeoutMs?: number;
  /** A critical instance is removed after this long (ms). */
  deregisterAfterMs?: number;
}

/** What a client registers. */
export interface InstanceSpec {
  service: string;
  id: string;
  /** host:port, with IPv6 hosts in brackets: "[::1]:8080". */
  address: string;
  weight: number;
  priority: number;
  zone?: string;
  tags: Record<string, string>;
  /** Port of the instance's mesh mTLS (inbound sidecar) listener, on the same host. */
  tlsPort?: number;
  check?: HealthCheckSpec;
  /**
   * The services-dir file that defines this instance (absolute path), set only by the daemon that loads it: the
   * API refuses to change or deregister such an instance (the file is its source of truth).
   */
  definedIn?: string;
}

/** What the registry holds: the spec plus the state it maintains. */
export interface Instance extends InstanceSpec {
  health: HealthState;
  /** Why the health is what it is (check output, "TTL expired", ...). */
  healthOutput?: string;
  /** Epoch ms. */
  registeredAt: number;
  /** Epoch ms of the last heartbeat or passing check, if any. */
  lastHeartbeat?: number;
  /** Epoch ms at which the instance became critical, if it is. */
  criticalSince?: number;
  /** Store index at which this instance was created / last modified. */
  createIndex: number;
  modifyIndex: number;
}

export interface ServiceSummary {
  service: string;
  instances: number;
  passing: number;
  warning: number;
  critical: number;
  /** Union of the instances' tags, as "k=v" strings, sorted. */
  tags: string[];
}

/**
 * Discovery speaks in updates. A watcher first receives a `reset` with the full set it watches, then
 * `upsert` and `remove` events in index order. Every event carries the store index it brings the watcher to.
 */
export type WatchEvent =
  | { type: 'reset'; index: number; instances: Instance[] }
  | { type: 'upsert'; index: number; instance: Instance }
  | { type: 'remove'; index: number; service: string; id: string; reason: string };

export const DEFAULTS = {
  weight: 100,
  priority: 0,
  checkIntervalMs: 10_000,
  checkTimeoutMs: 2_000,
  deregisterAfterMs: 60_000,
  registryUrl: 'http://127.0.0.1:8500',
  registryListen: '127.0.0.1:8500',
  proxyListen: '127.0.0.1:15001',
  proxyAdmin: '127.0.0.1:15000',
  proxyAdminUrl: 'http://127.0.0.1:15000',
} as const;
