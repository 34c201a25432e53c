// The attempt loop every forwarded request goes through, whatever its protocol: pick an endpoint → send one
// try → classify how it ended → retry on another endpoint (the pool falls back to the next priority tier once
// the active one has been tried in full) or give up with the proxy's own answer → record the request once.
// This class owns every decision of that loop: the per-request retry count, the overall deadline and the
// per-try timeout derived from it, which failures may be retried (retry.ts) and whether the retry budget
// pays for it, what counts against an endpoint (outlier detection via tryStarted/tryEnded, connect failures →
// unreachable, TLS handshake failures, a refused server certificate → upstream-identity), the error messages,
// and the single record at the end (metrics via requestEnded, body byte counters, the span, the access log).
//
// Why an abstract base class and not a controller object the adapters call: the request path is hot, and one
// object per request is all the state it has — the HTTP/1.1 adapter (http1/forward.ts) *is* undici's dispatch
// handler, the HTTP/2 one (h2/forward.ts) holds the stream listeners. A separate controller would be a second
// object per request, and callbacks between the two would be closures or promises per try. As a base class the
// loop's state lives in the same object, its decisions are plain method calls, and a try costs no promise and
// no closure. The adapters only know how to send one try (sendTry) and stream its answer back; they report
// what happened through the protected methods below, and answer the few protocol questions the loop asks
// (abstract members): how to cancel a try, how to answer with an error, whether the body was read, how to
// describe a failure.
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { ServiceSettings } from '../../config/proxy-config.js';
import { pickFailureMessage, statusOf, type MeshErrorCause } from '../errors-response.js';
import type { RouteRule } from '../router.js';
import type { Span } from '../../tracing/span.js';
import { isTlsHandshakeFailure, refusedIdentityMessage, refusedServerCertificate, tlsAddress } from '../upstream/outbound-tls.js';
import type { AccessContext, ForwardService } from './forward-service.js';
import { classifyFailure, isIdempotent, mayRetry, mayRetryGrpc, type FailureKind } from './retry.js';

export abstract class AttemptController {
  /** The endpoint of the current (or last) try. */
  protected ep: BalancerEndpoint | undefined = undefined;
  /** Endpoints already tried (made on the first retry only). */
  private tried: Set<string> | undefined = undefined;
  protected tries = 0;
  private readonly startedAt: number;
  private readonly deadline: number;
  private tryStartedAt = 0;
  /** A try started and its end has not been reported to the service yet. */
  private tryOpen = false;
  private budgetRefused = false;
  /** The response status is out to the client: no more retries, a failure now cuts the response. */
  protected responded = false;
  protected finished = false;
  protected status = 0;
  /** Request body bytes sent upstream and response body bytes relayed back, counted by the adapter. */
  protected bytesIn = 0;
  protected bytesOut = 0;
  /** The proxy's own error body, if it answered (logged in bytes_out, not counted against any endpoint). */
  private errorBytes = 0;

  constructor(
    protected readonly svc: ForwardService,
    protected readonly settings: ServiceSettings,
    private readonly route: RouteRule | undefined,
    private readonly subset: Readonly<Record<string, string>> | undefined,
    private readonly hashKey: string | undefined,
    protected readonly method: string,
    protected readonly path: string,
    protected readonly hasBody: boolean,
    /** A gRPC call: retried only when it never reached a server (retry.ts). */
    private readonly grpc: boolean,
    private readonly access: AccessContext | undefined,
    /** The request's span when it is traced and sampled (src/tracing); undefined costs one check per hook. */
    protected readonly span: Span | undefined,
  ) {
    // A traced request's span started a moment ago: its clock reading serves both.
    this.startedAt = span?.t0 ?? performance.now();
    this.deadline = this.startedAt + settings.timeoutMs;
  }

  /** Picks an endpoint and sends a try to it, or answers why there is none. */
  start(): void {
    const picked = this.svc.pick(this.subset, this.hashKey, this.tried);
    if (typeof picked === 'string') {
      this.fail(picked, pickFailureMessage(this.svc.name, picked));
      return;
    }
    this.ep = picked;
    if (!this.admitEndpoint(picked)) return;
    this.tries++;
    this.tryOpen = true;
    this.tryStartedAt = performance.now();
    this.span?.tryStart(picked.address, this.tryStartedAt);
    this.svc.tryStarted(picked);
    this.sendTry(picked, Math.min(this.settings.perTryTimeoutMs, Math.max(1, Math.round(this.deadline - this.tryStartedAt))));
  }

  // --- what an adapter implements ---

  /** Sends one try to `ep`; the response headers must arrive within `headersTimeoutMs` (per-try and overall deadline). */
  protected abstract sendTry(ep: BalancerEndpoint, headersTimeoutMs: number): void;
  /** The client went away: cancel the try in flight, if any (its failure must not be reported). */
  protected abstract cancelTry(): void;
  /** Answers the client with the proxy's own error; returns the body bytes sent. */
  protected abstract sendError(cause: MeshErrorCause, message: string): number;
  /** Whether the request body has been read (a streamed body cannot be replayed). Asked only when it has one. */
  protected abstract bodyRead(): boolean;
  /** The mesh TLS port the current try dialled, or undefined when it went in plaintext. Failure path only. */
  protected abstract tlsPortOfTry(ep: BalancerEndpoint): number | undefined;
  /** The error detail in an upstream-connect/-reset message. Failure path only. */
  protected abstract failureDetail(err: Error | undefined, tlsFailure: boolean): string;
  /** What a reset broke, in the upstream-reset message: "connection" (HTTP/1.1) or "stream" (HTTP/2). */
  protected abstract get resetWhat(): string;

  /** May refuse the picked endpoint before a try starts; when it returns false it has failed the request itself. */
  protected admitEndpoint(_ep: BalancerEndpoint): boolean {
    return true;
  }

  /** The request is over and recorded: the adapter lets go of what it listens to. */
  protected released(): void {}

  /** The status of the proxy's own error answer, as the client got it. */
  protected errorStatus(cause: MeshErrorCause): number {
    return statusOf(cause);
  }

  // --- what an adapter reports ---

  /**
   * The try's final response headers arrived. True: relay them (the status is out, no more retries). False:
   * a 503 that is retried elsewhere — the adapter drops this try and calls retryElsewhere() once it is gone.
   */
  protected responseStarted(status: number): boolean {
    const now = performance.now();
    this.span?.tryHeaders(status, now);
    if (status === 503 && this.canRetry('status-503')) {
      this.endTry(false, status, now);
      return false;
    }
    this.endTry(status < 500, status, now);
    this.status = status;
    this.responded = true;
    return true;
  }

  /** The try before this one was dropped (a retried 503): the next one goes to an endpoint not tried yet. */
  protected retryElsewhere(): void {
    (this.tried ??= new Set()).add(this.ep!.key);
    this.start();
  }

  /**
   * The try failed before any response: `kind` is how the adapter classified it, `err` the error it got (if
   * any). Counts it against the endpoint, then retries or answers the client.
   */
  protected tryFailed(kind: FailureKind, err: Error | undefined): void {
    const ep = this.ep!;
    const tlsPort = this.tlsPortOfTry(ep);
    const tlsFailure = err !== undefined && tlsPort !== undefined && isTlsHandshakeFailure(err);
    // A refused server certificate (wrong identity, untrusted chain) is no network failure but the request never
    // left this proxy: it is retried like a connect failure, and counts against the endpoint like one (the
    // endpoint cannot serve this service; outlier detection never ejects a lone endpoint), see upstream-identity.
    const refused = tlsFailure ? refusedServerCertificate(err) : undefined;
    this.endTry(false, 0);
    if (tlsFailure) this.svc.tlsHandshakeFailed?.(ep);
    // Only a failed TCP connect makes the endpoint unreachable; a refused stream is the server speaking.
    else if (err !== undefined && classifyFailure(err) === 'connect') this.svc.connectFailed?.(ep);
    if (this.canRetry(refused !== undefined ? 'connect' : kind)) {
      this.retryElsewhere();
      return;
    }
    if (refused !== undefined) {
      this.fail('upstream-identity', refusedIdentityMessage(this.svc.name, ep.address, tlsPort!, refused, this.tries));
      return;
    }
    const tries = `${this.tries} ${this.tries === 1 ? 'try' : 'tries'}`;
    if (kind === 'timeout') {
      this.fail('upstream-timeout', `service "${this.svc.name}" did not answer within ${Math.round(Math.min(this.settings.perTryTimeoutMs, this.settings.timeoutMs))} ms (${tries})`);
      return;
    }
    const connect = kind === 'connect';
    // Over mTLS the address dialled is the endpoint's mesh TLS port, not its app port.
    const dialled = tlsPort === undefined ? ep.address : tlsAddress(ep.address, tlsPort);
    this.fail(connect ? 'upstream-connect' : 'upstream-reset',
      `service "${this.svc.name}": ${connect ? 'cannot connect to' : `${this.resetWhat} reset by`} ${dialled} (${this.failureDetail(err, tlsFailure)}) after ${tries}`);
  }

  /** The try ended without blaming the endpoint (it cannot serve this request's protocol, say). */
  protected abandonTry(): void {
    this.endTry(true, 499);
  }

  /** The relayed response ended cleanly. */
  protected completed(): void {
    this.finish(this.status, undefined);
  }

  /** The relayed response broke mid-body; the adapter has already cut the client's response. */
  protected responseFailed(): void {
    this.finish(this.status, 'upstream-reset');
  }

  /**
   * The client went away (or broke its own request): the try is cancelled and not blamed, the request is
   * recorded as 499 in metrics and in the access log alike, on both protocols (nginx's "client closed request";
   * HTTP/1.1 used to log 0 here). A WebSocket tunnel is not an attempt and keeps its own rule (see the man page).
   */
  protected clientGone(): void {
    if (this.finished) return;
    // Finished before the cancel: undici may report the abort at once, which must not blame the upstream.
    this.finished = true;
    this.cancelTry();
    if (this.tryOpen) this.endTry(true, 499);
    this.record(499, undefined, true);
  }

  /** Answers with the proxy's own error and records the request. */
  protected fail(cause: MeshErrorCause, message: string): void {
    this.errorBytes = this.sendError(cause, message);
    this.finish(this.errorStatus(cause), cause);
  }

  // --- the loop's own bookkeeping ---

  private endTry(ok: boolean, status: number, now = performance.now()): void {
    this.tryOpen = false;
    this.svc.tryEnded(this.ep!, ok, now - this.tryStartedAt, status);
  }

  /** Retry count, overall deadline, what may be retried, then the retry budget, asked last. */
  private canRetry(kind: FailureKind): boolean {
    if (this.tries > this.settings.retries || performance.now() >= this.deadline) return false;
    const bodyTouched = this.hasBody && this.bodyRead();
    const allowed = this.grpc
      ? mayRetryGrpc(kind, bodyTouched)
      : mayRetry(kind, isIdempotent(this.method), bodyTouched, this.route?.retryable === true);
    if (!allowed) return false;
    if (this.svc.takeRetry(kind)) { this.span?.retry(kind); return true; }
    this.budgetRefused = true;
    return false;
  }

  private finish(status: number, cause: MeshErrorCause | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.record(status, cause, false);
  }

  private record(status: number, cause: MeshErrorCause | undefined, clientLeft: boolean): void {
    this.released();
    const now = performance.now();
    const durationMs = now - this.startedAt;
    this.svc.requestEnded(status, durationMs, this.tries > 1, cause, this.budgetRefused);
    this.span?.end(status, clientLeft ? 'client-closed' : cause, now);
    const ep = this.ep;
    if (ep !== undefined && (this.bytesIn !== 0 || this.bytesOut !== 0)) this.svc.bodyBytes?.(ep, this.bytesIn, this.bytesOut);
    const a = this.access;
    if (a === undefined) return;
    a.log.record({
      method: this.method, authority: a.authority, path: this.path, status, error: cause ?? null, durationMs,
      upstream: ep?.address ?? null, bytesIn: this.bytesIn, bytesOut: this.bytesOut + this.errorBytes, requestId: a.requestId, traceId: a.traceId,
    });
  }
}
