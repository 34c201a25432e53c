// The recording interface the proxy's hot path calls, and a no-op implementation for `--no-metrics`.
//
// How the proxy uses it (obtain stats objects once, cache them, call plain methods per request):
//
//   const metrics: MeshMetrics = flags.metrics ? new ProxyMetrics() : NOOP_METRICS;
//   metrics.start();                                   // starts the 1 s window tick (unref'd timer)
//   const svc = metrics.service('orders');             // cache on the service's pool
//   const ep = svc.endpoint('orders-1', '127.0.0.1:9001'); // cache on the pool's endpoint
//   // per client request:
//   svc.requestStarted();
//   //   per upstream try:
//   ep.requestStarted();
//   ep.requestEnded(status /* 0 = connect error/reset */, durationMs);
//   // once per client request, on the endpoint whose answer was relayed (the last try):
//   ep.bodyBytes(requestBodyBytesSentToIt, responseBodyBytesRelayedFromIt);
//   //   a retry:  svc.retry();
//   svc.requestEnded(Fate.ok /* or okAfterRetry, failed, … */, clientStatus, totalDurationMs);
//   // elsewhere: ep.ejection(), ep.unreachable(sinceEpochMs) / ep.reachable(), ep.tlsHandshakeFailure(), svc.policyDenial(), svc.underscoreHeadersDropped(n), svc.faultDelayed(), svc.removeEndpoint(id)
//
// Every method is a handful of number operations: no allocation, no strings built, no I/O.
import type { MetricsState } from './peers.js';

/** Why a client request ended as it did. Numeric so counting is an array index. */
export const Fate = {
  ok: 0,
  okAfterRetry: 1,
  failed: 2,
  retryBudgetExhausted: 3,
  timeout: 4,
  noHealthyEndpoint: 5,
  circuitOpen: 6,
  denied: 7,
  /** Answered by an injected fault (`mesh fault inject`): never retried, never held against an endpoint. */
  faultInjected: 8,
} as const;
export type Fate = (typeof Fate)[keyof typeof Fate];
export type FateName = keyof typeof Fate;
export const FATE_NAMES: readonly FateName[] = ['ok', 'okAfterRetry', 'failed', 'retryBudgetExhausted', 'timeout', 'noHealthyEndpoint', 'circuitOpen', 'denied', 'faultInjected'];

/** Balancer/outlier state the metrics do not own but `/stats` shows: read once per frame. */
export interface EndpointStateProbe {
  (service: string, endpointId: string): { ewmaMs?: number; ejectedUntil?: number } | undefined;
}

export interface EndpointStats {
  /** An upstream try began. */
  requestStarted(): void;
  /** An upstream try ended: HTTP status (0 for connect failure, reset or timeout before a response). */
  requestEnded(status: number, durationMs: number): void;
  /**
   * Body bytes of one client request, counted once when the request ends, on the endpoint of its last try:
   * the request body sent to it and the response body received from it and relayed to the client (for a
   * WebSocket, the bytes tunnelled each way). Only the last try can have moved body bytes: a try is retried
   * only while the request body is untouched, and a retried 503's body is dropped unread.
   */
  bodyBytes(toEndpoint: number, fromEndpoint: number): void;
  /** Outlier detection ejected this endpoint. */
  ejection(): void;
  /** A connect to it failed: it is out of service until a probe connects (reachability.ts); epoch ms. */
  unreachable(sinceEpochMs: number): void;
  /** A probe (or a request) reached it again. */
  reachable(): void;
  /** A TLS handshake to this endpoint failed. */
  tlsHandshakeFailure(): void;
  /** Requests per second over the sliding window (for GET /routes). */
  rps(): number;
  readonly inFlight: number;
}

export interface ServiceStats {
  /** A client request for this service began (counts service-level in-flight). */
  requestStarted(): void;
  /** A client request ended, as the client saw it: its fate, status and total duration (retries included). */
  requestEnded(fate: Fate, status: number, durationMs: number): void;
  /** A retry was sent. */
  retry(): void;
  /** The authorization policy refused a request for this service. */
  policyDenial(): void;
  /** `count` request headers were dropped for an underscore in their name (underscore-headers.ts). */
  underscoreHeadersDropped(count: number): void;
  /** An injected delay fault began holding a request (its outcome is counted as usual when it ends). */
  faultDelayed(): void;
  /** The stats object for one endpoint; create once per endpoint and cache it. */
  endpoint(id: string, address: string): EndpointStats;
  /** The endpoint left the table: stop exporting it (a cached object keeps working for in-flight requests). */
  removeEndpoint(id: string): void;
  readonly inFlight: number;
}

export interface MeshMetrics {
  readonly enabled: boolean;
  service(name: string): ServiceStats;
  /** A TLS handshake on the inbound (mTLS sidecar) listener failed. */
  inboundTlsHandshakeFailure(): void;
  /** Lets /stats show the balancer's EWMA cost and ejection deadline per endpoint. */
  setStateProbe(probe: EndpointStateProbe): void;
  /** This worker's numbers for the admin worker (`--workers N`; see ./peers.ts); undefined when disabled. */
  exportState(worker: number): MetricsState | undefined;
  /** Another worker's numbers, added to this one's in /metrics and /stats. */
  setPeerState(state: MetricsState): void;
  /** Starts the once-a-second window tick. */
  start(): void;
  /** Stops timers and ends /stats streams. */
  close(): void;
}

const noopEndpoint: EndpointStats = {
  requestStarted() {},
  requestEnded() {},
  bodyBytes() {},
  ejection() {},
  unreachable() {},
  reachable() {},
  tlsHandshakeFailure() {},
  rps: () => 0,
  inFlight: 0,
};

const noopService: ServiceStats = {
  requestStarted() {},
  requestEnded() {},
  retry() {},
  policyDenial() {},
  underscoreHeadersDropped() {},
  faultDelayed() {},
  endpoint: () => noopEndpoint,
  removeEndpoint() {},
  inFlight: 0,
};

/** Metrics that cost nothing: what the proxy passes under `--no-metrics`. */
export const NOOP_METRICS: MeshMetrics = {
  enabled: false,
  service: () => noopService,
  inboundTlsHandshakeFailure() {},
  setStateProbe() {},
  exportState: () => undefined,
  setPeerState() {},
  start() {},
  close() {},
};
