// The real MeshMetrics: plain number counters per service and endpoint, cumulative Prometheus buckets and a
// sliding window for the golden signals. Readers (the Prometheus collector, the stats frame) walk these
// objects on demand; the request path only adds to numbers. See ./types.ts for how the proxy calls it.
import { systemClock, type Clock } from '../core/clock.js';
import { exportWindow, importState, PEER_STALE_MS, type MetricsState, type PeerState } from './peers.js';
import { SlidingWindow, type Ticker } from './window.js';
import { Fate, FATE_NAMES, type EndpointStateProbe, type EndpointStats, type MeshMetrics, type ServiceStats } from './types.js';

/** `mesh_request_duration_seconds` bucket upper bounds, in seconds. */
export const DURATION_BUCKETS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BUCKETS_MS = DURATION_BUCKETS_S.map((s) => s * 1000);

/** A status code's class as an index: 0 = no response (connect error, reset), 1..5 = 1xx..5xx. */
function codeClass(status: number): number {
  const c = (status / 100) | 0;
  return c >= 1 && c <= 5 ? c : 0;
}
export const CODE_CLASS_LABELS = ['error', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class EndpointRecorder implements EndpointStats {
  inFlight = 0;
  /** Requests by code class index (see CODE_CLASS_LABELS). */
  readonly byClass = new Float64Array(6);
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly buckets = new Float64Array(BUCKETS_MS.length + 1);
  durationSumS = 0;
  /** Response body bytes received from this endpoint (mesh_response_bytes_total). */
  bytesIn = 0;
  /** Request body bytes sent to this endpoint (mesh_request_bytes_total). */
  bytesOut = 0;
  ejections = 0;
  /** Epoch ms since which connects to it fail (mesh_endpoint_unreachable), 0 while reachable. */
  unreachableSince = 0;
  /** Times it was found unreachable (mesh_unreachable_total). */
  unreachableMarks = 0;
  tlsFailures = 0;
  readonly window: SlidingWindow;

  constructor(readonly service: string, readonly id: string, readonly address: string, ticker: Ticker, windowSeconds: number) {
    this.window = new SlidingWindow(ticker, windowSeconds);
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestEnded(status: number, durationMs: number): void {
    this.inFlight--;
    const cls = codeClass(status);
    this.byClass[cls]++;
    let b = 0;
    while (b < BUCKETS_MS.length && durationMs > BUCKETS_MS[b]!) b++;
    this.buckets[b]++;
    this.durationSumS += durationMs / 1000;
    this.window.record(durationMs, cls !== 0 && cls !== 5);
  }

  bodyBytes(toEndpoint: number, fromEndpoint: number): void {
    this.bytesOut += toEndpoint;
    this.bytesIn += fromEndpoint;
  }

  ejection(): void {
    this.ejections++;
  }

  unreachable(sinceEpochMs: number): void {
    if (this.unreachableSince !== 0) return;
    this.unreachableSince = sinceEpochMs;
    this.unreachableMarks++;
  }

  reachable(): void {
    this.unreachableSince = 0;
  }

  tlsHandshakeFailure(): void {
    this.tlsFailures++;
  }

  rps(): number {
    return this.window.rps();
  }
}

export class ServiceRecorder implements ServiceStats {
  inFlight = 0;
  readonly fates = new Float64Array(FATE_NAMES.length);
  retries = 0;
  policyDenials = 0;
  underscoreHeaders = 0;
  /** Requests an injected delay fault held (mesh_fault_delays_injected_total). */
  faultDelays = 0;
  readonly endpoints = new Map<string, EndpointRecorder>();
  readonly window: SlidingWindow;

  constructor(readonly name: string, private readonly ticker: Ticker, private readonly windowSeconds: number) {
    this.window = new SlidingWindow(ticker, windowSeconds);
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestEnded(fate: Fate, status: number, durationMs: number): void {
    this.inFlight--;
    this.fates[fate]++;
    this.window.record(durationMs, status > 0 && status < 500);
  }

  retry(): void {
    this.retries++;
  }

  policyDenial(): void {
    this.policyDenials++;
  }

  underscoreHeadersDropped(count: number): void {
    this.underscoreHeaders += count;
  }

  faultDelayed(): void {
    this.faultDelays++;
  }

  endpoint(id: string, address: string): EndpointRecorder {
    let ep = this.endpoints.get(id);
    if (ep === undefined || ep.address !== address) {
      ep = new EndpointRecorder(this.name, id, address, this.ticker, this.windowSeconds);
      this.endpoints.set(id, ep);
    }
    return ep;
  }

  removeEndpoint(id: string): void {
    this.endpoints.delete(id);
  }
}

export interface ProxyMetricsOptions {
  /** Width of the golden-signal window in seconds (default 10). */
  windowSeconds?: number;
  clock?: Clock;
}

export class ProxyMetrics implements MeshMetrics {
  readonly enabled = true;
  readonly services = new Map<string, ServiceRecorder>();
  readonly ticker: Ticker = { tick: 0 };
  readonly windowSeconds: number;
  readonly clock: Clock;
  inboundTlsFailures = 0;
  probe: EndpointStateProbe | undefined;
  private readonly peers = new Map<number, PeerState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly closers = new Set<() => void>();

  constructor(opts: ProxyMetricsOptions = {}) {
    this.windowSeconds = opts.windowSeconds ?? 10;
    this.clock = opts.clock ?? systemClock;
  }

  service(name: string): ServiceRecorder {
    let svc = this.services.get(name);
    if (svc === undefined) {
      svc = new ServiceRecorder(name, this.ticker, this.windowSeconds);
      this.services.set(name, svc);
    }
    return svc;
  }

  inboundTlsHandshakeFailure(): void {
    this.inboundTlsFailures++;
  }

  setStateProbe(probe: EndpointStateProbe): void {
    this.probe = probe;
  }

  /** This worker's numbers as plain JSON, for the worker that serves /metrics and /stats (see ./peers.ts). */
  exportState(worker: number): MetricsState {
    return {
      worker,
      time: this.clock.now(),
      inboundTlsFailures: this.inboundTlsFailures,
      services: [...this.services.values()].map((svc) => ({
        name: svc.name, inFlight: svc.inFlight, fates: [...svc.fates], retries: svc.retries, policyDenials: svc.policyDenials, underscoreHeaders: svc.underscoreHeaders, faultDelays: svc.faultDelays,
        window: exportWindow(svc.window),
        endpoints: [...svc.endpoints.values()].map((ep) => ({
          id: ep.id, address: ep.address, inFlight: ep.inFlight, byClass: [...ep.byClass], buckets: [...ep.buckets], durationSumS: ep.durationSumS,
          bytesIn: ep.bytesIn, bytesOut: ep.bytesOut, ejections: ep.ejections, unreachableSince: ep.unreachableSince, unreachableMarks: ep.unreachableMarks,
          tlsFailures: ep.tlsFailures, window: exportWindow(ep.window),
        })),
      })),
    };
  }

  /** Another worker's latest numbers; they are added to this worker's in /metrics and /stats. */
  setPeerState(state: MetricsState): void {
    this.peers.set(state.worker, importState(state, this.clock.now()));
  }

  /** Peers heard from within the last 3 s (a worker that died stops counting). */
  livePeers(): PeerState[] {
    const now = this.clock.now();
    const live: PeerState[] = [];
    for (const [worker, p] of this.peers) {
      if (now - p.receivedAt <= PEER_STALE_MS) live.push(p);
      else this.peers.delete(worker);
    }
    return live;
  }

  /** Advances the window by one second (the timer calls it; tests call it by hand). */
  tick(): void {
    this.ticker.tick++;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  /** Registers something (a /stats stream) to end when the metrics close. */
  onClose(fn: () => void): () => void {
    this.closers.add(fn);
    return () => this.closers.delete(fn);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const fn of [...this.closers]) fn();
    this.closers.clear();
  }
}
