// The registry's HTTP server: lifecycle (listen, drain, close), bounded body reading and JSON/error replies.
// The routes themselves live in routes.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { isMeshError, MeshError, ValidationError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { handleApiRequest, type ApiContext } from './routes.js';
import type { DnsCounters } from '../dns/counters.js';
import type { RegistryStore } from '../store/store.js';
import type { WatchHub } from '../catalogue/watch-hub.js';
import type { IdentityService } from '../identity/service.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * A watcher that stops reading would otherwise make the daemon queue every later event for it, without bound.
 * Past this much unsent output its stream is cut; the client resumes from its last index (a replay from the
 * ring, or a fresh `reset`), so it loses nothing but the memory it was costing.
 */
export const WATCH_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Bodies must be UTF-8: a lenient decode would store U+FFFD in place of what the client meant. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

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
  private readonly inFlight = new Set<Promise<void>>();
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

  /**
   * Stops accepting, lets in-flight calls finish (up to drainMs), then cuts what is left. The watch hub must be
   * closed by the caller first or together, so that streams end cleanly rather than being cut.
   */
  async close(drainMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const s of this.watchSockets) s.end();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    this.http.closeIdleConnections();
    const timer = setTimeout(() => this.http.closeAllConnections(), Math.min(drainMs, 1_000));
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const p = handleApiRequest(this.ctx, req, res).catch((err: unknown) => sendError(this.ctx.store, res, err));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/** Reads a JSON body of at most MAX_BODY_BYTES; an empty body is undefined. */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge(req, res);
  const body = await readBody(req, res);
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new MeshError('MESH_ERR_INVALID_JSON', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MeshError('MESH_ERR_INVALID_JSON', `malformed JSON body: ${(err as Error).message}`);
  }
}

/**
 * The body's bytes, with plain 'data'/'end' listeners: a registration is one small chunk, and the async iterator
 * this replaced cost more than the rest of the read (a stream wrapper and an end-of-stream watcher per request).
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('close', onClose); };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_BODY_BYTES) { cleanup(); req.resume(); reject(tooLarge(req, res)); return; }
      chunks.push(chunk);
    };
    const onEnd = () => { cleanup(); resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    // The client went away before the body ended (the iterator rejected with ERR_STREAM_PREMATURE_CLOSE here).
    const onClose = () => { if (!req.complete) { cleanup(); reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })); } };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Stop reading an oversized body: the connection cannot be reused, so the reply closes it. */
function tooLarge(req: IncomingMessage, res: ServerResponse): MeshError {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.destroy());
  return new MeshError('MESH_ERR_BODY_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`);
}

export function sendJson(store: RegistryStore, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-mesh-index': String(store.currentIndex()),
    ...headers,
  });
  res.end(text);
}

export function sendError(store: RegistryStore, res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = isMeshError(err) ? err : new MeshError('MESH_ERR_INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  // A validation error names the field, so a client (or `mesh config apply`) can point at it.
  const field = e instanceof ValidationError ? { field: e.field } : {};
  sendJson(store, res, e.status, { error: { code: e.code, message: e.message, ...field } }, headers);
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
