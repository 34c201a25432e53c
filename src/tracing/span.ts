// The span model: one span per request a proxy forwards — client kind on the outbound proxy, server kind on
// the inbound sidecar — with one entry per try (its phases) and one event per retry. A Span only exists for a
// sampled request, so its fields and arrays cost nothing when tracing is off or the request is not sampled.
//
//   const span = tracer.startSpan(SpanKind.client, ids, ...);   // ids: the traceparent the proxy just sent on
//   span.tryStart('10.0.0.7:8080');  span.tryConnected();  span.tryHeaders(200);
//   span.retry('connect');                                     // closes the try, adds a retry event
//   span.end(200, undefined);                                  // hands the span to the tracer's sinks
//
// Times are performance.now() values; `startEpochMs` pins them to the wall clock once, at the start.

export const SpanKind = { server: 2, client: 3 } as const;

// Read once: performance.timeOrigin is a getter that does more than return a field.
const TIME_ORIGIN = performance.timeOrigin;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/**
 * One try, in ms since the span started; -1 = the phase was not reached. `connected` is when the request got
 * a connection (HTTP/1.1: undici assigned a socket, so queueing, TCP connect and TLS are all before it;
 * HTTP/2: the stream got its id on a connected session). `headers` is the first response byte.
 */
export interface SpanTry {
  endpoint: string;
  start: number;
  connected: number;
  headers: number;
  end: number;
  /** The response status of this try; 0 when none arrived. */
  status: number;
  /** Why the try ended without being the answer (a retry reason: connect, reset, timeout, status-503); '' for the answer. */
  failure: string;
}

export interface SpanEvent { atMs: number; name: string; reason: string; endpoint: string }

/** Where ended spans go (the tracer: the admin ring and the exporter's queue). */
export interface SpanSink { spanEnded(span: Span): void }

export interface SpanIds {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
}

export class Span {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  t0 = performance.now();
  startEpochMs = TIME_ORIGIN + this.t0;
  /** ms from start to end; -1 while open. */
  durationMs = -1;
  status = 0;
  /** The mesh's error cause (x-mesh-error), when the request failed. */
  cause: string | undefined = undefined;
  /** gRPC status code from the response trailers (or a trailers-only answer). */
  grpcStatus: string | undefined = undefined;
  /** The caller's SPIFFE ID (inbound sidecar, mTLS callers). */
  callerId: string | undefined = undefined;
  /** The caller's address (network.peer.address on the server side). */
  peerAddress: string | undefined = undefined;
  events: SpanEvent[] | undefined = undefined;
  // The current (last) try as flat fields, and the tries before it (only when there were retries): a request
  // with one try — nearly all of them — costs no array and no object besides the span itself.
  // tryEndpoint undefined = no try started yet.
  tryEndpoint: string | undefined = undefined;
  tryStartMs = -1;
  tryConnectedMs = -1;
  tryHeadersMs = -1;
  tryEndMs = -1;
  tryStatus = 0;
  tryFailure = '';
  earlierTries: SpanTry[] | undefined = undefined;

  constructor(
    private readonly sink: SpanSink,
    ids: SpanIds,
    public kind: SpanKind,
    /** The mesh service the request is for. */
    public service: string,
    public method: string,
    public path: string,
    /** '1.1' or '2'. */
    public protocol: string,
    public grpc: boolean,
    public requestId: string | undefined,
  ) {
    this.traceId = ids.traceId;
    this.spanId = ids.spanId;
    this.parentSpanId = ids.parentSpanId;
  }

  /** `now`: performance.now() when the caller has just read it (the proxy times its tries too). */
  tryStart(endpoint: string, now = performance.now()): void {
    if (this.tryEndpoint !== undefined) (this.earlierTries ??= []).push(this.currentTry()!);
    this.tryEndpoint = endpoint;
    this.tryStartMs = now - this.t0;
    this.tryConnectedMs = -1;
    this.tryHeadersMs = -1;
    this.tryEndMs = -1;
    this.tryStatus = 0;
    this.tryFailure = '';
  }

  tryConnected(): void {
    if (this.tryEndpoint !== undefined && this.tryConnectedMs < 0) this.tryConnectedMs = performance.now() - this.t0;
  }

  tryHeaders(status: number, now = performance.now()): void {
    if (this.tryEndpoint === undefined) return;
    this.tryHeadersMs = now - this.t0;
    this.tryStatus = status;
  }

  /** The current try failed and another one follows: close it and record the retry with its reason. */
  retry(reason: string): void {
    const now = performance.now() - this.t0;
    if (this.tryEndpoint !== undefined) { this.tryEndMs = now; this.tryFailure = reason; }
    (this.events ??= []).push({ atMs: now, name: 'mesh.retry', reason, endpoint: this.tryEndpoint ?? '' });
  }

  get endpoint(): string | undefined { return this.tryEndpoint; }

  /** How many tries the request made (0 when it never got to an endpoint). */
  get tryCount(): number {
    return this.tryEndpoint === undefined ? 0 : (this.earlierTries?.length ?? 0) + 1;
  }

  /** Every try, oldest first, as objects (built on each read: for the admin API, not the request path). */
  get tries(): SpanTry[] {
    const current = this.currentTry();
    if (current === undefined) return [];
    return this.earlierTries === undefined ? [current] : [...this.earlierTries, current];
  }

  private currentTry(): SpanTry | undefined {
    if (this.tryEndpoint === undefined) return undefined;
    return {
      endpoint: this.tryEndpoint, start: this.tryStartMs, connected: this.tryConnectedMs, headers: this.tryHeadersMs,
      end: this.tryEndMs, status: this.tryStatus, failure: this.tryFailure,
    };
  }

  /** Ends the span once (later calls are ignored) and hands it to the sink. */
  end(status: number, cause: string | undefined, now = performance.now()): void {
    if (this.durationMs >= 0) return;
    this.durationMs = now - this.t0;
    this.status = status;
    this.cause = cause;
    if (this.tryEndpoint !== undefined && this.tryEndMs < 0) {
      this.tryEndMs = this.durationMs;
      if (this.tryStatus === 0) this.tryFailure = cause ?? 'aborted';
    }
    this.sink.spanEnded(this);
  }

  /**
   * Makes this span a copy of an ended one (the ring's preallocated slots): the ring then holds no reference
   * to the request's span, which can die young instead of being promoted to V8's old generation.
   */
  copyFrom(s: Span): void {
    this.traceId = s.traceId; this.spanId = s.spanId; this.parentSpanId = s.parentSpanId;
    this.t0 = s.t0; this.startEpochMs = s.startEpochMs; this.durationMs = s.durationMs;
    this.status = s.status; this.cause = s.cause; this.grpcStatus = s.grpcStatus;
    this.callerId = s.callerId; this.peerAddress = s.peerAddress; this.events = s.events;
    this.tryEndpoint = s.tryEndpoint; this.tryStartMs = s.tryStartMs; this.tryConnectedMs = s.tryConnectedMs;
    this.tryHeadersMs = s.tryHeadersMs; this.tryEndMs = s.tryEndMs; this.tryStatus = s.tryStatus;
    this.tryFailure = s.tryFailure; this.earlierTries = s.earlierTries;
    this.kind = s.kind; this.service = s.service; this.method = s.method; this.path = s.path;
    this.protocol = s.protocol; this.grpc = s.grpc; this.requestId = s.requestId;
  }

  /** An empty span for a ring slot (filled with copyFrom). */
  static blank(): Span {
    const s = new Span(NO_SINK, NO_IDS, SpanKind.client, '', '', '', '', false, undefined);
    return s;
  }
}

const NO_SINK: SpanSink = { spanEnded: () => undefined };
const NO_IDS: SpanIds = { traceId: '', spanId: '' };
