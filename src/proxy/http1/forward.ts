// Forwarding one client request to an upstream endpoint over undici's low-level dispatch handler API.
// One Exchange object per client request is the whole per-request state: it is the undici handler for every
// try (no closures per callback), streams bodies both ways with backpressure, and asks retry.ts whether a
// failure before the response started may be retried on another endpoint.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { ServiceSettings } from '../../config/proxy-config.js';
import { pickFailureMessage, sendMeshError, type MeshErrorCause } from '../errors-response.js';
import { classifyFailure, mayRetry, type FailureKind } from '../attempt/retry.js';
import type { RouteRule } from '../router.js';
import type { AccessLog } from '../../metrics/access-log.js';
import { isTlsHandshakeFailure, refusedIdentityMessage, refusedServerCertificate, tlsAddress } from '../upstream/outbound-tls.js';
import { filterResponseHeaders } from '../headers/hop-headers.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { Span } from '../../tracing/span.js';

/** What the forwarder needs from a service's endpoint pool (implemented in service-runtime.ts). */
export interface ForwardService {
  readonly name: string;
  /** Picks an eligible endpoint (avoiding `exclude` when it can), or returns why there is none. */
  pick(subset: Readonly<Record<string, string>> | undefined, hashKey: string | undefined, exclude: ReadonlySet<string> | undefined): BalancerEndpoint | MeshErrorCause;
  /** A try started / ended; `ok` false for connect errors, resets, timeouts and 5xx (outlier detection). */
  tryStarted(ep: BalancerEndpoint): void;
  tryEnded(ep: BalancerEndpoint, ok: boolean, latencyMs: number, status: number): void;
  /**
   * Once per request, as it ends: the body bytes sent to and relayed from the endpoint of its last try (the
   * only try that can have moved any, see EndpointStats.bodyBytes); the proxy's own error bodies are not counted.
   */
  bodyBytes?(ep: BalancerEndpoint, toEndpoint: number, fromEndpoint: number): void;
  /** A TLS handshake to a mesh TLS endpoint failed (bad certificate, wrong SPIFFE ID): counted per endpoint. */
  tlsHandshakeFailed?(ep: BalancerEndpoint): void;
  /** A connect to the endpoint failed (refused, timed out): it is unreachable until a probe connects. */
  connectFailed?(ep: BalancerEndpoint): void;
  /** Asks for one retry after a failure of this kind; false = the retry budget is spent. */
  takeRetry(kind: FailureKind): boolean;
  /**
   * The request is over (frees its concurrency slot, records metrics). `retried` = it took more than one try;
   * `budgetRefused` = a retry was wanted but the retry budget was spent.
   */
  requestEnded(status: number, latencyMs: number, retried: boolean, cause: MeshErrorCause | undefined, budgetRefused?: boolean): void;
}

/** What an access-log line needs beyond the exchange's own state (only built when the log is on). */
export interface AccessContext {
  log: AccessLog;
  authority: string;
  requestId: string;
  traceId: string;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class Exchange implements Dispatcher.DispatchHandler {
  private ep: BalancerEndpoint | undefined = undefined;
  private tried: Set<string> | undefined = undefined;
  private tries = 0;
  private readonly startedAt: number;
  private tryStartedAt = 0;
  private abortTry: ((err?: Error) => void) | undefined = undefined;
  private retryPending = false;
  private budgetRefused = false;
  private responded = false;
  private finished = false;
  private status = 0;
  private resumeUpstream: (() => void) | undefined = undefined;
  private readonly idempotent: boolean;
  private readonly deadline: number;
  /** Response body bytes relayed from the upstream. */
  private bytesOut = 0;
  /** The proxy's own error body, if it answered (logged in bytes_out, not counted against any endpoint). */
  private errorBytes = 0;
  /** Request body bytes undici wrote upstream (onBodySent): equal to those read from the client. */
  private bytesIn = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly svc: ForwardService,
    private readonly pools: UpstreamPools,
    private readonly settings: ServiceSettings,
    private readonly route: RouteRule | undefined,
    private readonly subset: Readonly<Record<string, string>> | undefined,
    private readonly hashKey: string | undefined,
    private readonly path: string,
    private readonly headers: string[],
    private readonly hasBody: boolean,
    private readonly access: AccessContext | undefined = undefined,
    /** The request's span when it is traced and sampled (src/tracing); undefined costs one check per hook. */
    private readonly span: Span | undefined = undefined,
  ) {
    this.startedAt = performance.now();
    this.deadline = this.startedAt + settings.timeoutMs;
    this.idempotent = IDEMPOTENT.has(req.method!);
    res.on('close', this.onClientClose);
  }

  start(): void {
    const picked = this.svc.pick(this.subset, this.hashKey, this.tried);
    if (typeof picked === 'string') {
      this.fail(picked, pickFailureMessage(this.svc.name, picked));
      return;
    }
    this.ep = picked;
    this.tries++;
    this.retryPending = false;
    this.abortTry = undefined;
    this.tryStartedAt = performance.now();
    this.span?.tryStart(picked.address);
    this.svc.tryStarted(picked);
    const remaining = Math.max(1, Math.round(this.deadline - this.tryStartedAt));
    this.pools.get(picked.address, this.svc.name, (picked as { tlsPort?: number }).tlsPort, this.settings.connectTimeoutMs).dispatch({
      path: this.path,
      method: this.req.method as Dispatcher.HttpMethod,
      headers: this.headers,
      body: this.hasBody ? this.req : null,
      headersTimeout: Math.min(this.settings.perTryTimeoutMs, remaining),
      bodyTimeout: this.settings.perTryTimeoutMs,
      idempotent: this.idempotent && !this.hasBody,
    }, this);
  }

  // --- undici handler (legacy callback API: no controller objects, raw header buffers) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortTry = abort;
    this.span?.tryConnected();
    if (this.finished) abort();
  }

  // undici 7 passes the chunk written (its types still declare the older (chunkSize, totalBytesSent)).
  onBodySent(chunk: Buffer | string | number): void {
    this.bytesIn += typeof chunk === 'number' ? chunk : chunk.length;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.finished) return false;
    if (statusCode < 200) {
      if (statusCode === 103) this.res.writeEarlyHints({ link: linksOf(rawHeaders) });
      return true;
    }
    const ep = this.ep!;
    this.span?.tryHeaders(statusCode);
    if (statusCode === 503 && this.canRetry('status-503')) {
      this.svc.tryEnded(ep, false, performance.now() - this.tryStartedAt, statusCode);
      this.retryPending = true;
      this.abortTry?.(new RetryAbort());
      return false;
    }
    this.svc.tryEnded(ep, statusCode < 500, performance.now() - this.tryStartedAt, statusCode);
    this.status = statusCode;
    this.responded = true;
    this.resumeUpstream = resume;
    try {
      this.res.writeHead(statusCode, statusText || undefined, filterResponseHeaders(rawHeaders));
    } catch {
      this.res.destroy();
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    if (trailers !== null && trailers.length > 0) {
      const t: Array<[string, string]> = [];
      for (let i = 0; i < trailers.length; i += 2) t.push([String(trailers[i]), String(trailers[i + 1])]);
      this.res.addTrailers(t);
    }
    this.res.end();
    this.finish(this.status, undefined);
  }

  onError(err: Error): void {
    if (this.finished) return;
    const ep = this.ep!;
    if (this.retryPending) {
      this.tried ??= new Set();
      this.tried.add(ep.key);
      this.start();
      return;
    }
    // The client broke its own request (a malformed or cut-off body) or hung up: not the upstream's failure,
    // so it is neither blamed (outlier detection) nor retried; the client's socket is already gone or being
    // answered by the parser's 400.
    if (this.req.destroyed && !this.req.complete) {
      this.onClientClose();
      return;
    }
    const tlsPort = this.pools.mtls ? (ep as { tlsPort?: number }).tlsPort : undefined;
    // A refused server certificate (wrong identity, untrusted chain) is no network failure but the request never
    // left this proxy: it is retried like a connect failure, and counts against the endpoint like one (the
    // endpoint cannot serve this service; outlier detection never ejects a lone endpoint), see upstream-identity.
    const refused = tlsPort !== undefined && !this.responded ? refusedServerCertificate(err) : undefined;
    const kind = refused !== undefined ? 'connect' : classifyFailure(err);
    if (!this.responded) {
      this.svc.tryEnded(ep, false, performance.now() - this.tryStartedAt, 0);
      if (tlsPort !== undefined && isTlsHandshakeFailure(err)) this.svc.tlsHandshakeFailed?.(ep);
      else if (kind === 'connect' && refused === undefined) this.svc.connectFailed?.(ep);
    }
    if (!this.responded && this.canRetry(kind)) {
      this.tried ??= new Set();
      this.tried.add(ep.key);
      this.start();
      return;
    }
    if (this.responded) {
      // Mid-body: the status is out; cutting the connection is the only way to tell the client.
      this.res.destroy();
      this.finish(this.status, 'upstream-reset');
      return;
    }
    if (refused !== undefined) {
      this.fail('upstream-identity', refusedIdentityMessage(this.svc.name, ep.address, tlsPort!, refused, this.tries));
      return;
    }
    const timeout = kind === 'timeout';
    const cause: MeshErrorCause = timeout ? 'upstream-timeout' : kind === 'connect' ? 'upstream-connect' : 'upstream-reset';
    const detail = (err as NodeJS.ErrnoException).code ?? err.message;
    // Over mTLS the address dialled is the endpoint's mesh TLS port, not its app port.
    const dialled = tlsPort === undefined ? ep.address : tlsAddress(ep.address, tlsPort);
    this.fail(cause, timeout
      ? `service "${this.svc.name}" did not answer within ${Math.round(Math.min(this.settings.perTryTimeoutMs, this.settings.timeoutMs))} ms (${this.tries} ${this.tries === 1 ? 'try' : 'tries'})`
      : `service "${this.svc.name}": ${kind === 'connect' ? 'cannot connect to' : 'connection reset by'} ${dialled} (${detail}) after ${this.tries} ${this.tries === 1 ? 'try' : 'tries'}`);
  }

  // --- helpers ---

  private canRetry(kind: FailureKind): boolean {
    if (this.tries > this.settings.retries) return false;
    if (performance.now() >= this.deadline) return false;
    const bodyTouched = this.hasBody && (this.req.readableDidRead || this.req.destroyed);
    if (!mayRetry(kind, this.idempotent, bodyTouched, this.route?.retryable === true)) return false;
    if (this.svc.takeRetry(kind)) { this.span?.retry(kind); return true; }
    this.budgetRefused = true;
    return false;
  }

  private fail(cause: MeshErrorCause, message: string): void {
    this.errorBytes = sendMeshError(this.res, cause, message);
    this.finish(this.res.statusCode, cause);
  }

  private countBodyBytes(): void {
    if (this.ep !== undefined && (this.bytesIn !== 0 || this.bytesOut !== 0)) this.svc.bodyBytes?.(this.ep, this.bytesIn, this.bytesOut);
  }

  private finish(status: number, cause: MeshErrorCause | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.countBodyBytes();
    // The 'close' listener stays: it runs once more when the response closes, and returns at once (finished).
    const durationMs = performance.now() - this.startedAt;
    this.svc.requestEnded(status, durationMs, this.tries > 1, cause, this.budgetRefused);
    this.span?.end(status, cause);
    if (this.access !== undefined) this.logAccess(status, durationMs, cause);
  }

  private logAccess(status: number, durationMs: number, cause: MeshErrorCause | undefined): void {
    const a = this.access!;
    a.log.record({
      method: this.req.method!, authority: a.authority, path: this.path, status, error: cause ?? null, durationMs,
      upstream: this.ep?.address ?? null, bytesIn: this.bytesIn, bytesOut: this.bytesOut + this.errorBytes, requestId: a.requestId, traceId: a.traceId,
    });
  }

  private readonly onDrain = (): void => {
    this.resumeUpstream?.();
  };

  /** The client went away: abort the upstream try so its socket is not left streaming to nobody. */
  private readonly onClientClose = (): void => {
    if (this.finished) return;
    // Finished before the abort: undici may report it through onError at once, which must not blame the upstream.
    this.finished = true;
    const ep = this.ep;
    this.abortTry?.(new Error('client closed the connection'));
    if (ep !== undefined && !this.responded && !this.retryPending) this.svc.tryEnded(ep, true, performance.now() - this.tryStartedAt, 499);
    const durationMs = performance.now() - this.startedAt;
    this.svc.requestEnded(499, durationMs, this.tries > 1, undefined);
    this.span?.end(499, 'client-closed');
    this.countBodyBytes();
    if (this.access !== undefined) this.logAccess(0, durationMs, undefined);
  };
}

/** Marks the abort we cause ourselves to drop a 503 and retry elsewhere. */
class RetryAbort extends Error {
  constructor() { super('retrying on another endpoint'); }
}

function linksOf(raw: Buffer[]): string[] {
  const links: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toString('latin1').toLowerCase() === 'link') links.push(raw[i + 1]!.toString('latin1'));
  return links;
}
