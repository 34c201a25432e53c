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
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly t0 = performance.now();
  readonly startEpochMs = performance.timeOrigin + this.t0;
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
  readonly tries: SpanTry[] = [];
  events: SpanEvent[] | undefined = undefined;

  constructor(
    private readonly sink: SpanSink,
    ids: SpanIds,
    readonly kind: SpanKind,
    /** The mesh service the request is for. */
    readonly service: string,
    readonly method: string,
    readonly path: string,
    /** '1.1' or '2'. */
    readonly protocol: string,
    readonly grpc: boolean,
    readonly requestId: string | undefined,
  ) {
    this.traceId = ids.traceId;
    this.spanId = ids.spanId;
    this.parentSpanId = ids.parentSpanId;
  }

  tryStart(endpoint: string): void {
    this.tries.push({ endpoint, start: performance.now() - this.t0, connected: -1, headers: -1, end: -1, status: 0, failure: '' });
  }

  tryConnected(): void {
    const t = this.tries[this.tries.length - 1];
    if (t !== undefined && t.connected < 0) t.connected = performance.now() - this.t0;
  }

  tryHeaders(status: number): void {
    const t = this.tries[this.tries.length - 1];
    if (t === undefined) return;
    t.headers = performance.now() - this.t0;
    t.status = status;
  }

  /** The current try failed and another one follows: close it and record the retry with its reason. */
  retry(reason: string): void {
    const t = this.tries[this.tries.length - 1];
    const now = performance.now() - this.t0;
    if (t !== undefined) { t.end = now; t.failure = reason; }
    (this.events ??= []).push({ atMs: now, name: 'mesh.retry', reason, endpoint: t?.endpoint ?? '' });
  }

  get endpoint(): string | undefined { return this.tries[this.tries.length - 1]?.endpoint; }

  /** Ends the span once (later calls are ignored) and hands it to the sink. */
  end(status: number, cause: string | undefined): void {
    if (this.durationMs >= 0) return;
    this.durationMs = performance.now() - this.t0;
    this.status = status;
    this.cause = cause;
    const t = this.tries[this.tries.length - 1];
    if (t !== undefined && t.end < 0) {
      t.end = this.durationMs;
      if (t.status === 0) t.failure = cause ?? 'aborted';
    }
    this.sink.spanEnded(this);
  }
}
