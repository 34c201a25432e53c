// The HTTP/1.1 adapter of the attempt loop (attempt/controller.ts): sends one try over undici's low-level
// dispatch handler API and streams its answer back with backpressure. The Exchange is the loop's state and
// undici's handler for every try at once, so one object per client request is still all it costs (no closures
// per callback, no promise per try). Everything about retries, deadlines, outlier reporting, metrics, tracing
// and the access log is the controller's; this file only maps undici's callbacks onto its reports.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { ServiceSettings } from '../../config/proxy-config.js';
import { sendMeshError, type MeshErrorCause } from '../errors-response.js';
import { AttemptController } from '../attempt/controller.js';
import type { AccessContext, ForwardService } from '../attempt/forward-service.js';
import { classifyFailure, isIdempotent } from '../attempt/retry.js';
import type { RouteRule } from '../router.js';
import { filterResponseHeaders } from '../headers/hop-headers.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { Span } from '../../tracing/span.js';

export class Exchange extends AttemptController implements Dispatcher.DispatchHandler {
  /** Aborts the try in flight (undici's onConnect); undefined until it connected. */
  private abortUpstream: ((err?: Error) => void) | undefined = undefined;
  /** A 503 is being dropped for a retry: the abort we caused comes back through onError. */
  private retryPending = false;
  private resumeUpstream: (() => void) | undefined = undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    svc: ForwardService,
    private readonly pools: UpstreamPools,
    settings: ServiceSettings,
    route: RouteRule | undefined,
    subset: Readonly<Record<string, string>> | undefined,
    hashKey: string | undefined,
    path: string,
    private readonly headers: string[],
    hasBody: boolean,
    access: AccessContext | undefined = undefined,
    span: Span | undefined = undefined,
  ) {
    super(svc, settings, route, subset, hashKey, req.method!, path, hasBody, false, access, span);
    res.on('close', this.onClientClose);
  }

  protected sendTry(ep: BalancerEndpoint, headersTimeoutMs: number): void {
    this.retryPending = false;
    this.abortUpstream = undefined;
    this.pools.get(ep.address, this.svc.name, (ep as { tlsPort?: number }).tlsPort, this.settings.connectTimeoutMs).dispatch({
      path: this.path,
      method: this.method as Dispatcher.HttpMethod,
      headers: this.headers,
      body: this.hasBody ? this.req : null,
      headersTimeout: headersTimeoutMs,
      bodyTimeout: this.settings.perTryTimeoutMs,
      idempotent: !this.hasBody && isIdempotent(this.method),
    }, this);
  }

  // --- undici handler (legacy callback API: no controller objects, raw header buffers) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
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
    if (!this.responseStarted(statusCode)) {
      this.retryPending = true;
      this.abortUpstream?.(new RetryAbort());
      return false;
    }
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
    this.completed();
  }

  onError(err: Error): void {
    if (this.finished) return;
    if (this.retryPending) {
      this.retryElsewhere();
      return;
    }
    // The client broke its own request (a malformed or cut-off body) or hung up: not the upstream's failure,
    // so it is neither blamed (outlier detection) nor retried; the client's socket is already gone or being
    // answered by the parser's 400.
    if (this.req.destroyed && !this.req.complete) {
      this.onClientClose();
      return;
    }
    if (this.responded) {
      // Mid-body: the status is out; cutting the connection is the only way to tell the client.
      this.res.destroy();
      this.responseFailed();
      return;
    }
    this.tryFailed(classifyFailure(err), err);
  }

  // --- what the attempt loop asks of HTTP/1.1 ---

  protected cancelTry(): void {
    this.abortUpstream?.(new Error('client closed the connection'));
  }

  protected sendError(cause: MeshErrorCause, message: string): number {
    return sendMeshError(this.res, cause, message);
  }

  protected override errorStatus(): number {
    return this.res.statusCode;
  }

  protected bodyRead(): boolean {
    return this.req.readableDidRead || this.req.destroyed;
  }

  protected tlsPortOfTry(ep: BalancerEndpoint): number | undefined {
    return this.pools.mtls ? (ep as { tlsPort?: number }).tlsPort : undefined;
  }

  protected failureDetail(err: Error | undefined): string {
    return (err as NodeJS.ErrnoException).code ?? err!.message;
  }

  protected get resetWhat(): string { return 'connection'; }

  private readonly onDrain = (): void => {
    this.resumeUpstream?.();
  };

  /** The client went away: abort the upstream try so its socket is not left streaming to nobody. */
  private readonly onClientClose = (): void => {
    this.clientGone();
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
