// Forwarding one HTTP/2 (or gRPC) client stream to an upstream endpoint over an HTTP/2 session (h2c, or mTLS
// with ALPN h2 to an endpoint's mesh TLS port when this proxy has a service certificate): the same
// service runtime as HTTP/1.1 (balancer pick, outlier finish, metrics, retry budget), bodies piped with
// backpressure both ways, response trailers relayed (gRPC's grpc-status lives there), and RST_STREAM passed
// through in both directions. Retries happen only before any response header arrived, and only while the
// request body is untouched; for gRPC only when the call never reached the server (connect failure,
// REFUSED_STREAM), since a gRPC method is not known to be idempotent.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { ServiceSettings } from '../../config/proxy-config.js';
import { pickFailureMessage, statusOf, type MeshErrorCause } from '../errors-response.js';
import type { AccessContext, ForwardService } from '../http1/forward.js';
import { sendH2Error } from './errors.js';
import { filterH2Headers } from './headers.js';
import { ERR_NOT_H2, type H2Sessions, type H2Target } from './sessions.js';
import { isTlsHandshakeFailure, refusedIdentityMessage, refusedServerCertificate, tlsAddress } from '../upstream/outbound-tls.js';
import { classifyFailure, mayRetry, type FailureKind } from '../attempt/retry.js';
import type { RouteRule } from '../router.js';
import type { Span } from '../../tracing/span.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;
// Complete request options: Node copies them and fills in the priority fields it finds missing, which costs a
// shape change per request when they are absent.
const WITH_BODY = { endStream: false, weight: 16, parent: 0, exclusive: false };
const WITHOUT_BODY = { endStream: true, weight: 16, parent: 0, exclusive: false };
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface H2Request {
  method: string;
  path: string;
  /** Upstream request headers, pseudo-headers included. */
  headers: OutgoingHttpHeaders;
  hasBody: boolean;
  grpc: boolean;
}

export class H2Exchange {
  private ep: BalancerEndpoint | undefined;
  private target: H2Target = '';
  private up: ClientHttp2Stream | undefined;
  private tried: Set<string> | undefined;
  private tries = 0;
  private readonly startedAt = performance.now();
  private tryStartedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private ready = false;
  private responded = false;
  private finished = false;
  private status = 0;
  private trailers: OutgoingHttpHeaders | undefined;
  private upError: Error | undefined;
  private budgetRefused = false;
  private readonly deadline: number;
  /** Request body bytes piped upstream and response body bytes relayed back (metrics and access log). */
  private bytesIn = 0;
  private bytesOut = 0;
  private countingIn = false;
  /** The proxy's own error body, if it answered (logged in bytes_out, not counted against any endpoint). */
  private errorBytes = 0;

  constructor(
    private readonly client: ServerHttp2Stream,
    private readonly req: H2Request,
    private readonly svc: ForwardService,
    private readonly sessions: H2Sessions,
    private readonly settings: ServiceSettings,
    private readonly route: RouteRule | undefined,
    private readonly subset: Readonly<Record<string, string>> | undefined,
    private readonly hashKey: string | undefined,
    private readonly access: AccessContext | undefined,
    /** The request's span when it is traced and sampled (src/tracing). */
    private readonly span: Span | undefined = undefined,
  ) {
    this.deadline = this.startedAt + settings.timeoutMs;
    client.on('close', this.onClientClose);
  }

  start(): void {
    const picked = this.svc.pick(this.subset, this.hashKey, this.tried);
    if (typeof picked === 'string') {
      this.fail(picked, pickFailureMessage(this.svc.name, picked));
      return;
    }
    this.ep = picked;
    this.target = this.sessions.target(picked.address, this.svc.name, (picked as { tlsPort?: number }).tlsPort);
    if (this.sessions.speaksOnlyHttp1(this.target)) {
      this.fail('protocol-unsupported', this.notH2Message(picked));
      return;
    }
    this.tries++;
    this.ready = false;
    this.timedOut = false;
    this.upError = undefined;
    this.tryStartedAt = performance.now();
    this.span?.tryStart(picked.address);
    this.svc.tryStarted(picked);
    this.timer = setTimeout(this.onTimeout, Math.max(1, Math.min(this.settings.perTryTimeoutMs, Math.round(this.deadline - this.tryStartedAt))));
    let up: ClientHttp2Stream;
    try {
      up = this.sessions.request(this.target, this.req.headers, this.req.hasBody ? WITH_BODY : WITHOUT_BODY);
    } catch (err) {
      // A session that is closing refuses new streams synchronously: nothing was sent.
      this.upError = err as Error;
      this.tryFailed('connect');
      return;
    }
    this.up = up;
    // On a session that is already connected the stream gets its id (and 'ready') inside request().
    if (up.pending) up.once('ready', this.onReady); else this.onReady();
    up.on('response', this.onResponse);
    up.on('trailers', this.onTrailers);
    up.on('error', this.onUpError);
    up.on('close', this.onUpClose);
  }

  private readonly onReady = (): void => {
    this.ready = true;
    this.span?.tryConnected();
    // The body is read only once the stream exists upstream, so a failed connect leaves it retryable.
    if (!this.req.hasBody) return;
    this.client.pipe(this.up!);
    // Counted only once piped: a 'data' listener added earlier would start the flow with nowhere to go.
    // pipe() already reads in flowing mode, so this listener costs one call per chunk and no allocation.
    // Once per request: a retried try pipes the same client stream again.
    if (!this.countingIn) { this.countingIn = true; this.client.on('data', this.countIn); }
  };

  private readonly countIn = (chunk: Buffer): void => { this.bytesIn += chunk.length; };

  private readonly onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    clearTimeout(this.timer);
    if (this.finished) return;
    const ep = this.ep!;
    const status = Number(headers[':status']);
    if (this.span !== undefined) this.spanHeaders(status, headers);
    if (status === 503 && !this.req.grpc && this.canRetry('status-503')) {
      this.svc.tryEnded(ep, false, performance.now() - this.tryStartedAt, status);
      this.detachUpstream().close(NGHTTP2_CANCEL);
      this.retry();
      return;
    }
    this.svc.tryEnded(ep, status < 500, performance.now() - this.tryStartedAt, status);
    this.status = status;
    this.responded = true;
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    try {
      // A trailers-only answer (gRPC errors) must stay one HEADERS frame with END_STREAM.
      this.client.respond(filterH2Headers(headers, true), endStream ? { endStream: true } : { waitForTrailers: true });
    } catch {
      this.client.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (endStream) return;
    this.client.on('wantTrailers', this.onWantTrailers);
    if (!this.req.grpc) this.up!.setTimeout(this.settings.perTryTimeoutMs, this.onIdle);
    this.up!.on('data', this.relay);
    this.up!.once('end', this.relayEnd);
  };

  /** The response body to the client, with backpressure: lighter than pipe() (no listeners added per stream). */
  private readonly relay = (chunk: Buffer): void => {
    this.bytesOut += chunk.length;
    if (!this.client.write(chunk)) {
      this.up!.pause();
      this.client.once('drain', this.resumeUp);
    }
  };

  private readonly resumeUp = (): void => { this.up?.resume(); };
  private readonly relayEnd = (): void => { this.client.end(); };

  private readonly onTrailers = (trailers: IncomingHttpHeaders): void => {
    this.trailers = filterH2Headers(trailers, false);
    const grpcStatus = trailers['grpc-status'];
    if (this.span !== undefined && typeof grpcStatus === 'string') this.span.grpcStatus = grpcStatus;
  };

  /** A response arrived on the current try; a trailers-only gRPC answer carries grpc-status in its headers. */
  private spanHeaders(status: number, headers: IncomingHttpHeaders): void {
    this.span!.tryHeaders(status);
    const grpcStatus = headers['grpc-status'];
    if (typeof grpcStatus === 'string') this.span!.grpcStatus = grpcStatus;
  }

  private readonly onWantTrailers = (): void => {
    this.client.sendTrailers(this.trailers ?? {});
  };

  private readonly onUpError = (err: Error): void => {
    this.upError = err;
  };

  private readonly onUpClose = (): void => {
    clearTimeout(this.timer);
    const up = this.up!;
    if (this.finished) return;
    if (this.responded) {
      // A clean end was relayed by pipe() and sendTrailers(); a reset is passed on with its code.
      if (up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR) {
        this.client.close(up.rstCode);
        this.finish(this.status, 'upstream-reset');
      } else {
        this.finish(this.status, undefined);
      }
      return;
    }
    const refused = up.rstCode === NGHTTP2_REFUSED_STREAM || !this.ready;
    const kind: FailureKind = this.timedOut ? 'timeout' : refused ? 'connect' : this.upError === undefined ? 'reset' : classifyFailure(this.upError);
    this.tryFailed(kind === 'other' ? 'reset' : kind);
  };

  private tryFailed(kind: FailureKind): void {
    const ep = this.ep!;
    clearTimeout(this.timer);
    this.sessions.noteFailure(this.target, this.upError);
    if (this.sessions.speaksOnlyHttp1(this.target)) {
      // A protocol mismatch is not the endpoint failing: it serves HTTP/1.1 clients fine, so no ejection.
      this.svc.tryEnded(ep, true, performance.now() - this.tryStartedAt, 499);
      this.fail('protocol-unsupported', this.notH2Message(ep));
      return;
    }
    const tlsPort = this.target.length !== ep.address.length ? (ep as { tlsPort?: number }).tlsPort : undefined;
    const tlsFailure = this.upError !== undefined && tlsPort !== undefined && isTlsHandshakeFailure(this.upError);
    // A refused server certificate never reached the app: retried like a connect failure (see forward.ts).
    const refused = tlsFailure ? refusedServerCertificate(this.upError!) : undefined;
    this.svc.tryEnded(ep, false, performance.now() - this.tryStartedAt, 0);
    if (tlsFailure) this.svc.tlsHandshakeFailed?.(ep);
    // Only a failed TCP connect makes the endpoint unreachable; a refused stream is the server speaking.
    else if (this.upError !== undefined && classifyFailure(this.upError) === 'connect') this.svc.connectFailed?.(ep);
    if (this.canRetry(refused !== undefined ? 'connect' : kind)) { this.retry(); return; }
    if (refused !== undefined) {
      this.fail('upstream-identity', refusedIdentityMessage(this.svc.name, ep.address, tlsPort!, refused, this.tries));
      return;
    }
    if (kind === 'timeout') {
      this.fail('upstream-timeout', `service "${this.svc.name}" did not answer within ${Math.round(Math.min(this.settings.perTryTimeoutMs, this.settings.timeoutMs))} ms (${this.tries} ${this.tries === 1 ? 'try' : 'tries'})`);
      return;
    }
    const err = this.upError as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | undefined;
    // Any other TLS failure (an alert: the server refused our certificate) is worth its whole message.
    const detail = tlsFailure ? `${err!.code}: ${err!.message}` : err?.cause?.code ?? err?.code ?? (this.up?.rstCode !== undefined ? `RST_STREAM ${this.up.rstCode}` : 'closed');
    const connectFailed = kind === 'connect';
    // Over mTLS the address dialled is the endpoint's mesh TLS port, not its app port.
    const dialled = tlsPort === undefined ? ep.address : tlsAddress(ep.address, tlsPort);
    this.fail(connectFailed ? 'upstream-connect' : 'upstream-reset',
      `service "${this.svc.name}": ${connectFailed ? 'cannot connect to' : 'stream reset by'} ${dialled} (${detail}) after ${this.tries} ${this.tries === 1 ? 'try' : 'tries'}`);
  }

  private notH2Message(ep: BalancerEndpoint): string {
    return this.target.length === ep.address.length
      ? `service "${this.svc.name}": endpoint ${ep.address} does not speak HTTP/2 cleartext (h2c); call it over HTTP/1.1`
      : `service "${this.svc.name}": endpoint ${ep.address} did not negotiate HTTP/2 (ALPN h2) on its mesh TLS port (${ERR_NOT_H2}); its sidecar serves HTTP/1.1 only — call it over HTTP/1.1 or upgrade that sidecar`;
  }

  private retry(): void {
    this.tried ??= new Set();
    this.tried.add(this.ep!.key);
    this.up = undefined;
    this.start();
  }

  private canRetry(kind: FailureKind): boolean {
    if (this.tries > this.settings.retries || performance.now() >= this.deadline) return false;
    const bodyTouched = this.req.hasBody && (this.client.readableDidRead || this.client.destroyed);
    const allowed = this.req.grpc
      ? kind === 'connect' && !bodyTouched
      : mayRetry(kind, IDEMPOTENT.has(this.req.method), bodyTouched, this.route?.retryable === true);
    if (!allowed) return false;
    if (this.svc.takeRetry(kind)) { this.span?.retry(kind); return true; }
    this.budgetRefused = true;
    return false;
  }

  private detachUpstream(): ClientHttp2Stream {
    const up = this.up!;
    up.off('close', this.onUpClose);
    up.off('response', this.onResponse);
    up.on('error', noop);
    return up;
  }

  private readonly onTimeout = (): void => {
    this.timedOut = true;
    this.up?.close(NGHTTP2_CANCEL);
  };

  /** No upstream data for a per-try timeout after the response started (plain h2 only, as for HTTP/1.1). */
  private readonly onIdle = (): void => {
    this.up?.close(NGHTTP2_CANCEL);
  };

  private fail(cause: MeshErrorCause, message: string): void {
    this.errorBytes = sendH2Error(this.client, this.req.grpc, cause, message);
    this.finish(statusOf(cause), cause);
  }

  private finish(status: number, cause: MeshErrorCause | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.client.off('close', this.onClientClose);
    const durationMs = performance.now() - this.startedAt;
    this.svc.requestEnded(status, durationMs, this.tries > 1, cause, this.budgetRefused);
    this.span?.end(status, cause ?? (status === 499 ? 'client-closed' : undefined));
    if (this.ep !== undefined && (this.bytesIn !== 0 || this.bytesOut !== 0)) this.svc.bodyBytes?.(this.ep, this.bytesIn, this.bytesOut);
    const a = this.access;
    if (a !== undefined) {
      a.log.record({
        method: this.req.method, authority: a.authority, path: this.req.path, status, error: cause ?? null, durationMs,
        upstream: this.ep?.address ?? null, bytesIn: this.bytesIn, bytesOut: this.bytesOut + this.errorBytes, requestId: a.requestId, traceId: a.traceId,
      });
    }
  }

  /** The client reset or went away: cancel the upstream stream with the client's code. */
  private readonly onClientClose = (): void => {
    if (this.finished) return;
    clearTimeout(this.timer);
    const up = this.up;
    const code = this.client.rstCode !== undefined && this.client.rstCode !== NGHTTP2_NO_ERROR ? this.client.rstCode : NGHTTP2_CANCEL;
    if (up !== undefined && !up.closed) this.detachUpstream().close(code);
    if (this.ep !== undefined && !this.responded && this.tries > 0) this.svc.tryEnded(this.ep, true, performance.now() - this.tryStartedAt, 499);
    this.finish(499, undefined);
  };
}

function noop(): void {}
