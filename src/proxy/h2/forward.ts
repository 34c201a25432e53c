// The HTTP/2 (and gRPC) adapter of the attempt loop (attempt/controller.ts): sends one try as a stream on an
// upstream HTTP/2 session (h2c, or mTLS with ALPN h2 to an endpoint's mesh TLS port when this proxy has a
// service certificate), pipes bodies with backpressure both ways, relays response trailers (gRPC's grpc-status
// lives there) and passes RST_STREAM through in both directions. What is retried, and when, is the
// controller's: only before any response header arrived and while the request body is untouched, and for gRPC
// only when the call never reached the server (connect failure, REFUSED_STREAM). This file adds what only
// HTTP/2 has: its own per-try timer, and endpoints that turn out to speak HTTP/1.1 only.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { ServiceSettings } from '../../config/proxy-config.js';
import type { MeshErrorCause } from '../errors-response.js';
import { AttemptController } from '../attempt/controller.js';
import type { AccessContext, ForwardService } from '../attempt/forward-service.js';
import { classifyFailure, type FailureKind } from '../attempt/retry.js';
import { sendH2Error } from './errors.js';
import { filterH2Headers } from './headers.js';
import { ERR_NOT_H2, type H2Sessions, type H2Target } from './sessions.js';
import type { RouteRule } from '../router.js';
import type { Span } from '../../tracing/span.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;
// Complete request options: Node copies them and fills in the priority fields it finds missing, which costs a
// shape change per request when they are absent.
const WITH_BODY = { endStream: false, weight: 16, parent: 0, exclusive: false };
const WITHOUT_BODY = { endStream: true, weight: 16, parent: 0, exclusive: false };

export interface H2Request {
  method: string;
  path: string;
  /** Upstream request headers, pseudo-headers included. */
  headers: OutgoingHttpHeaders;
  hasBody: boolean;
  grpc: boolean;
}

export class H2Exchange extends AttemptController {
  private target: H2Target = '';
  private up: ClientHttp2Stream | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timedOut = false;
  private ready = false;
  private trailers: OutgoingHttpHeaders | undefined = undefined;
  private upError: Error | undefined = undefined;
  private countingIn = false;

  constructor(
    private readonly client: ServerHttp2Stream,
    private readonly req: H2Request,
    svc: ForwardService,
    private readonly sessions: H2Sessions,
    settings: ServiceSettings,
    route: RouteRule | undefined,
    subset: Readonly<Record<string, string>> | undefined,
    hashKey: string | undefined,
    access: AccessContext | undefined,
    span: Span | undefined = undefined,
  ) {
    super(svc, settings, route, subset, hashKey, req.method, req.path, req.hasBody, req.grpc, access, span);
    client.on('close', this.onClientClose);
  }

  /** An endpoint known to speak HTTP/1.1 only is refused before a try starts (and never blamed for it). */
  protected override admitEndpoint(ep: BalancerEndpoint): boolean {
    this.target = this.sessions.target(ep.address, this.svc.name, (ep as { tlsPort?: number }).tlsPort);
    if (!this.sessions.speaksOnlyHttp1(this.target)) return true;
    this.fail('protocol-unsupported', this.notH2Message(ep));
    return false;
  }

  protected sendTry(_ep: BalancerEndpoint, headersTimeoutMs: number): void {
    this.up = undefined;
    this.ready = false;
    this.timedOut = false;
    this.upError = undefined;
    this.timer = setTimeout(this.onTimeout, headersTimeoutMs);
    let up: ClientHttp2Stream;
    try {
      up = this.sessions.request(this.target, this.req.headers, this.req.hasBody ? WITH_BODY : WITHOUT_BODY);
    } catch (err) {
      // A session that is closing refuses new streams synchronously: nothing was sent.
      this.upError = err as Error;
      this.upstreamFailed('connect');
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
    const status = Number(headers[':status']);
    // A trailers-only gRPC answer carries grpc-status in its headers.
    if (this.span !== undefined) this.spanGrpcStatus(headers);
    if (!this.responseStarted(status)) {
      this.detachUpstream().close(NGHTTP2_CANCEL);
      this.retryElsewhere();
      return;
    }
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
    if (this.span !== undefined) this.spanGrpcStatus(trailers);
  };

  private spanGrpcStatus(headers: IncomingHttpHeaders): void {
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
      // A clean end was relayed by relay() and sendTrailers(); a reset is passed on with its code.
      if (up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR) {
        this.client.close(up.rstCode);
        this.responseFailed();
      } else {
        this.completed();
      }
      return;
    }
    const refused = up.rstCode === NGHTTP2_REFUSED_STREAM || !this.ready;
    const kind: FailureKind = this.timedOut ? 'timeout' : refused ? 'connect' : this.upError === undefined ? 'reset' : classifyFailure(this.upError);
    this.upstreamFailed(kind === 'other' ? 'reset' : kind);
  };

  /** A try failed before its response: an HTTP/1.1-only endpoint is this protocol's own case, the rest is the loop's. */
  private upstreamFailed(kind: FailureKind): void {
    clearTimeout(this.timer);
    this.sessions.noteFailure(this.target, this.upError);
    if (this.sessions.speaksOnlyHttp1(this.target)) {
      // A protocol mismatch is not the endpoint failing: it serves HTTP/1.1 clients fine, so no ejection.
      this.abandonTry();
      this.fail('protocol-unsupported', this.notH2Message(this.ep!));
      return;
    }
    this.tryFailed(kind, this.upError);
  }

  private notH2Message(ep: BalancerEndpoint): string {
    return this.target.length === ep.address.length
      ? `service "${this.svc.name}": endpoint ${ep.address} does not speak HTTP/2 cleartext (h2c); call it over HTTP/1.1`
      : `service "${this.svc.name}": endpoint ${ep.address} did not negotiate HTTP/2 (ALPN h2) on its mesh TLS port (${ERR_NOT_H2}); its sidecar serves HTTP/1.1 only — call it over HTTP/1.1 or upgrade that sidecar`;
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

  // --- what the attempt loop asks of HTTP/2 ---

  /** Cancels the upstream stream with the client's own reset code (CANCEL when it just went away). */
  protected cancelTry(): void {
    clearTimeout(this.timer);
    const up = this.up;
    const code = this.client.rstCode !== undefined && this.client.rstCode !== NGHTTP2_NO_ERROR ? this.client.rstCode : NGHTTP2_CANCEL;
    if (up !== undefined && !up.closed) this.detachUpstream().close(code);
  }

  protected sendError(cause: MeshErrorCause, message: string): number {
    return sendH2Error(this.client, this.req.grpc, cause, message);
  }

  protected bodyRead(): boolean {
    return this.client.readableDidRead || this.client.destroyed;
  }

  protected tlsPortOfTry(ep: BalancerEndpoint): number | undefined {
    return this.target.length !== ep.address.length ? (ep as { tlsPort?: number }).tlsPort : undefined;
  }

  protected failureDetail(err: Error | undefined, tlsFailure: boolean): string {
    const e = err as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | undefined;
    // Any other TLS failure (an alert: the server refused our certificate) is worth its whole message.
    if (tlsFailure) return `${e!.code}: ${e!.message}`;
    return e?.cause?.code ?? e?.code ?? (this.up?.rstCode !== undefined ? `RST_STREAM ${this.up.rstCode}` : 'closed');
  }

  protected get resetWhat(): string { return 'stream'; }

  protected override released(): void {
    this.client.off('close', this.onClientClose);
  }

  /** The client reset or went away: the loop cancels the upstream stream (cancelTry) and records a 499. */
  private readonly onClientClose = (): void => {
    this.clientGone();
  };
}

function noop(): void {}
