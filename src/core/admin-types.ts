// The shapes the proxy's admin server answers with (GET /routes, GET /stats) and that `mesh routes`,
// `mesh top` and `mesh check` read. The proxy produces them; the CLI and UI only consume them.
import type { HealthState, Instance } from './types.js';

/** An endpoint as the proxy routes to it: the instance's registered fields plus the balancer's state. */
export interface RoutesEndpoint extends Pick<Instance, 'id' | 'address' | 'weight' | 'priority' | 'zone' | 'tags' | 'tlsPort'> {
  health: HealthState;
  /** Ejected by outlier detection until this epoch ms (absent when not ejected). */
  ejectedUntil?: number;
  /** Epoch ms since which connections to it are refused or time out (absent while it is reachable). */
  unreachableSince?: number;
  /** How many times it has been ejected (the ejection time grows with this). */
  ejections: number;
  consecutiveFailures: number;
  inFlight: number;
  /** Peak-EWMA cost estimate in ms (latency × load), when the policy keeps one. */
  ewmaMs?: number;
  /** Requests per second over the stats window. */
  rps: number;
  /** Whether the balancer would pick this endpoint now, and why not when it would not. */
  eligible: boolean;
  excludedBecause?: 'critical' | 'warning' | 'ejected' | 'unreachable' | 'inactive-tier';
}

export interface RoutesService {
  service: string;
  policy: string;
  /** Lowest priority tier taking traffic, or null when none does. */
  activeTier: number | null;
  /**
   * Every priority tier: its health (eligible share of its registered weight × 1.4, capped, in percent) and
   * its load (share of the traffic it takes, in percent); see the man page's PRIORITY TIERS.
   */
  tiers?: Array<{ priority: number; health: number; load: number }>;
  inFlight: number;
  maxConcurrent?: number;
  endpoints: RoutesEndpoint[];
}

export interface RoutesSnapshot {
  /** Registry index the table reflects. */
  index: number;
  registry: { url: string; connected: boolean; lastError?: string };
  services: RoutesService[];
  /** The central config this proxy runs (src/proxy/discovery/central-config.ts); absent from proxies before it existed. */
  config?: {
    version: number;
    synced: boolean;
    connected: boolean;
    lastError?: string;
    /** The local --config file laid over it. */
    file?: string;
    /** A newer central version this proxy refused (its merge with the local file is invalid). */
    refused?: { version: number; reason: string };
  };
  /** This proxy's own mTLS identity (absent without mTLS). */
  identity?: ProxyIdentity;
}

/** The certificate a proxy presents: from files (`--cert`) or from the registry (`--identity registry`). */
export interface ProxyIdentity {
  spiffeId: string;
  trustDomain: string;
  source: 'files' | 'registry';
  notBefore: string;
  notAfter: string;
}

/** Why requests ended as they did — the "fate" column of `mesh top`. */
export interface RequestFates {
  ok: number;
  okAfterRetry: number;
  failed: number;
  retryBudgetExhausted: number;
  timeout: number;
  noHealthyEndpoint: number;
  circuitOpen: number;
  denied: number;
  /** Answered by an injected fault (`mesh fault inject`). */
  faultInjected: number;
}

export interface GoldenSignals {
  /** Requests per second over the window. */
  rps: number;
  /** Share of requests that succeeded (non-5xx) in [0,1]; null when there were none. */
  successRate: number | null;
  /** Latency percentiles in ms over the window; null when there were no requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  inFlight: number;
  requests: number;
}

export interface EndpointStatsFrame extends GoldenSignals {
  id: string;
  address: string;
  ewmaMs?: number;
  ejectedUntil?: number;
  /** Epoch ms since which connects to it fail (absent while reachable); it takes no traffic until a probe connects. */
  unreachableSince?: number;
}

export interface ServiceStatsFrame extends GoldenSignals {
  service: string;
  fates: RequestFates;
  endpoints: EndpointStatsFrame[];
}

/** One frame of GET /stats (a server-sent-event stream, one frame per second). */
export interface StatsFrame {
  /** Epoch ms at which the frame was taken. */
  time: number;
  /** Width of the sliding window the signals are computed over (ms). */
  windowMs: number;
  services: ServiceStatsFrame[];
  /** The proxy's own mTLS identity, when it has one (shown in `mesh top`'s header with the time it has left). */
  identity?: ProxyIdentity;
}
