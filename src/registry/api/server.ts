// The registry's HTTP server: lifecycle (listen, drain, close) and parser errors. The routes live in
// routes.ts, bounded body reading and JSON/error replies in json.ts (which the routes of every part use).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { MeshError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { handleApiRequest } from './routes.js';
import type { ApiContext } from './context.js';
import { MAX_BODY_BYTES, sendError, tooLarge } from './json.js';
import type { DnsCounters } from '../dns/counters.js';
import type { RegistryStore } from '../store/store.js';
import type { WatchHub } from '../catalogue/watch-hub.js';
import type { IdentityService } from '../identity/service.js';

/**
 * A watcher that stops reading would otherwise make the daemon queue every later event for it, without bound.
 * Past this much unsent output its stream is cut; the client resumes from its last index (a replay from the
 * ring, or a fresh `reset`), so it loses nothing but the memory it was costing.
 */
export const WATCH_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface RegistryServerOptions {
  store: RegistryStore;
  hub: WatchHub;
  version: string;
  clock?: Clock;
  /** Called before every mutating call (PUT, DELETE); throws a MeshError (401/403) to refuse it. */
  authorize?: (req: IncomingMessage) => void;
  /** Interval of the `: keepalive` comment on watch streams (ms). */
  keepaliveMs?: number;
  /** PEM certificate and key: serve the API over HTTPS. */
  tls?: { cert: string; key: string };
  /** Lifecycle lines (e.g. a watch stream dropped for falling behind). */
  log?: (line: string) => void;
  /** Bytes a watch stream may have queued and unsent before it is dropped (default WATCH_MAX_QUEUED_BYTES). */
  watchMaxQueuedBytes?: number;
  /** Serves the identity API (certificates, tokens, trust bundle). */
  identity?: IdentityService;
  /** The DNS front end's counters, exported at /v1/metrics (when the daemon serves DNS). */
  dnsCounters?: DnsCounters;
}

export class RegistryServer {
  readonly http: Server;
  private readonly ctx: ApiContext;
  /** Calls being handled (a count, not a set of promises: one promise chain less per call); close() drains them. */
  private active = 0;
  private onDrained: (() => void) | undefined;
  private readonly settled = (): void => { if (--this.active === 0) this.onDrained?.(); };
  private readonly watchSockets = new Set<Socket>();

  constructor(opts: RegistryServerOptions) {
    const clock = opts.clock ?? systemClock;
    this.ctx = {
      store: opts.store,
      hub: opts.hub,
      version: opts.version,
      clock,
      startedAt: clock.monotonic(),
      listen: '',
      authorize: opts.authorize,
      keepaliveMs: opts.keepaliveMs ?? 15_000,
      watchMaxQueuedBytes: opts.watchMaxQueuedBytes ?? WATCH_MAX_QUEUED_BYTES,
      log: opts.log ?? (() => {}),
      identity: opts.identity,
      dnsCounters: opts.dnsCounters,
      onWatchStream: (socket) => {
        this.watchSockets.add(socket);
        socket.once('close', () => this.watchSockets.delete(socket));
      },
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.dispatch(req, res);
    this.http = opts.tls === undefined
      ? createServer({ noDelay: true, keepAlive: true }, handler)
      // With an issuer, workloads may renew with their mesh certificate as the TLS client certificate. It is only
      // requested (never required), and verified by the identity API against the current trust bundle.
      : createHttpsServer({ ...opts.tls, minVersion: 'TLSv1.2', noDelay: true, keepAlive: true, ...(opts.identity ? { requestCert: true, rejectUnauthorized: false } : {}) }, handler) as unknown as Server;
    // `Expect: 100-continue` (curl sends it for large bodies): refuse an oversized body before it is sent.
    this.http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
        sendError(this.ctx.store, res, tooLarge(req, res));
        return;
      }
      res.writeContinue();
      this.dispatch(req, res);
    });
    // Tight limits for ordinary calls: a client that trickles headers or a body cannot hold a socket for long.
    // Watch streams are long-lived responses, not long requests, so requestTimeout does not cut them.
    this.http.headersTimeout = 10_000;
    // Garbage, bad framing, oversized headers: the API's JSON error instead of Node's bare 400.
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
    this.http.requestTimeout = 30_000;
    this.http.keepAliveTimeout = 5_000;
  }

  /** Listens on host:port (port 0 picks one) and returns the bound address. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(new MeshError('MESH_ERR_LISTEN', `cannot listen on ${host}:${port}: ${why}`, { cause: err }));
      };
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        const addr = this.http.address() as AddressInfo;
        this.ctx.listen = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
        resolve(addr);
      });
    });
  }

  get listenAddress(): string {
    return this.ctx.listen;
  }

  /** The DNS server's address once it listens (`registry start --dns`), for GET /v1/status. */
  setDnsAddress(address: string, domain: string): void {
    this.ctx.dns = { address, domain };
  }

  /**
   * Stops accepting, lets in-flight calls finish (up to drainMs), then cuts what is left. The watch hub must be
   * closed by the caller first or together, so that streams end cleanly rather than being cut.
   */
  async close(drainMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const s of this.watchSockets) s.end();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    const drained = this.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => { this.onDrained = resolve; });
    await Promise.race([drained, deadline]);
    this.http.closeIdleConnections();
    const timer = setTimeout(() => this.http.closeAllConnections(), Math.min(drainMs, 1_000));
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    this.active++;
    handleApiRequest(this.ctx, req, res).then(this.settled, (err: unknown) => {
      try { sendError(this.ctx.store, res, err); } finally { this.settled(); }
    });
  }
}

/** Parser errors on a connection: one JSON error reply, then close (the framing cannot be trusted). */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooLarge ? '431 Request Header Fields Too Large' : timeout ? '408 Request Timeout' : '400 Bad Request';
  const message = tooLarge ? 'request headers are too large' : timeout ? 'the request took too long to arrive' : `malformed HTTP request (${err.code ?? 'parse error'})`;
  const body = JSON.stringify({ error: { code: 'MESH_ERR_BAD_REQUEST', message } });
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
