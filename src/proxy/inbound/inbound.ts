// The inbound sidecar: terminates mTLS in front of one local app. A client certificate chained to the mesh CA
// is required at the handshake; the caller's SPIFFE ID is read once per connection, the authorization policy
// decides each request (403 naming the rule), and the request goes to the app with `x-mesh-client-id` set from
// the certificate — a copy sent by the caller is always stripped. ALPN offers h2 and http/1.1: HTTP/2 and gRPC
// callers get the same guarantees (inbound-h2.ts; gRPC refusals are PERMISSION_DENIED) and reach the app over
// h2c. A caller's certificate must also be a mesh identity, or the caller is refused right after the handshake
// (inbound-callers.ts). With --permissive, plaintext callers (HTTP/1.1, or h2c with prior knowledge) are accepted
// on the same port (first byte 0x16 = TLS) and treated as unauthenticated, and so is a TLS caller whose
// CA-signed certificate is not a mesh identity. The app gets the outbound proxy's header rules
// (hop-by-hop and underscore headers dropped: hop-headers.ts, underscore-headers.ts), and nothing is
// tunnelled: every Upgrade, WebSocket included, is dropped and the request answered over HTTP/1.1 (upgrade.ts).
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { evaluate } from '../../authz/policy.js';
import type { PolicySource } from '../../authz/load.js';
import { ErrorCodes } from '../../core/errors.js';
import { BUILTIN_DEFAULTS, type ServiceSettings } from '../../config/proxy-config.js';
import { Exchange } from '../http1/forward.js';
import type { ForwardService } from '../attempt/forward-service.js';
import { UpstreamPools } from '../upstream/pools.js';
import type { BalancerEndpoint } from '../balancer/policy.js';
import { upstreamHeaders } from '../headers/hop-headers.js';
import { serverTlsOptions, type TlsSource } from '../../tls/context.js';
import type { MeshErrorCause } from '../errors-response.js';
import { PrefixedSocket, remoteAddressOf, TLS_HANDSHAKE } from '../sniff.js';
import type { InboundMetrics } from './metrics.js';
import { InboundCallers, type Caller } from './callers.js';
import { InboundH2Front, probeH2c } from './h2.js';
import { H2Exchange } from '../h2/forward.js';
import { sendH2Error, sendH2Forbidden } from '../h2/errors.js';
import { forwardedHeaders, requestHeaders } from '../h2/headers.js';
import { H2Sessions } from '../h2/sessions.js';
import { sniffH2c } from '../h2/sniff.js';
import { serveWithoutUpgrade } from '../http1/upgrade.js';
import { applyTraceContext } from '../../metrics/trace.js';
import { SpanKind, type Span } from '../../tracing/span.js';
import type { Tracer } from '../../tracing/tracer.js';

export const CLIENT_ID_HEADER = 'x-mesh-client-id';

export interface InboundOptions {
  service: string;
  /** The local app, host:port. */
  app: string;
  tls: TlsSource;
  /** A --policy file (PolicyHolder) or the registry's central policy (central-config.ts). */
  policy: PolicySource | undefined;
  permissive: boolean;
  metrics: InboundMetrics;
  /** Forward request headers with '_' in their name (the config's allowUnderscoresInHeaders for this service). */
  allowUnderscoresInHeaders: boolean;
  log: (line: string) => void;
  /** When tracing is on: each request gets a server-kind span, and the app a traceparent naming it. */
  tracer?: Tracer | undefined;
}

export interface InboundStats { mtlsRequests: number; plaintextRequests: number; denied: number; handshakesRefused: number }

/** An HTTP/2 connection: who is calling, from where, and whether over TLS. */
interface H2Conn { caller: Caller; address: string | undefined; tls: boolean }

export class InboundSidecar {
  readonly stats: InboundStats = { mtlsRequests: 0, plaintextRequests: 0, denied: 0, handshakesRefused: 0 };
  readonly https: HttpsServer;
  readonly plain: HttpServer | undefined;
  /** What listens: the HTTPS server itself, or (permissive) a TCP front that sniffs TLS from plaintext. */
  readonly listener: NetServer;
  readonly #callers = new WeakMap<object, Caller>();
  readonly #pools = new UpstreamPools(BUILTIN_DEFAULTS.connectTimeoutMs);
  /** h2c sessions to the app, for HTTP/2 and gRPC callers. */
  readonly #appH2 = new H2Sessions(BUILTIN_DEFAULTS.connectTimeoutMs);
  readonly #h2: InboundH2Front<H2Conn>;
  /** Plaintext connections still being sniffed for the h2c preface (--permissive). */
  readonly #sniffing = new Set<Socket>();
  readonly #app: ForwardService;
  readonly #settings: ServiceSettings = { ...BUILTIN_DEFAULTS, retries: 0 };
  /** Where dropped underscore headers are counted; undefined when they are allowed. */
  readonly #underscores: InboundMetrics | undefined;
  readonly #who: InboundCallers;
  readonly #unauthenticated: Caller;
  #draining = false;
  /** Whether the app answered h2c at the last probe (see #alpn). */
  #appSpeaksH2 = false;
  /** null once closed: no more probes. */
  #probeTimer: NodeJS.Timeout | undefined | null;

  constructor(private readonly opts: InboundOptions) {
    this.#app = appService(opts.service, opts.app, this.stats);
    this.#underscores = opts.allowUnderscoresInHeaders ? undefined : opts.metrics;
    this.#who = new InboundCallers({ tls: opts.tls, permissive: opts.permissive, metrics: opts.metrics, stats: this.stats, log: opts.log });
    this.#unauthenticated = this.#who.unauthenticated;
    const timeouts = { headersTimeout: 10_000, requestTimeout: 300_000, keepAliveTimeout: 5_000 };
    this.https = createHttpsServer({ ...serverTlsOptions(opts.tls.material), ALPNCallback: ({ protocols }) => this.#alpn(protocols), ...timeouts });
    this.#probeApp();
    opts.tls.attachServer(this.https);
    this.#h2 = new InboundH2Front<H2Conn>((stream, headers, conn) => this.#handleStream(stream, headers, conn));
    // The HTTPS server's own handler (Node's HTTP/1.1 parser) now runs only for connections that did not pick h2.
    const http1 = this.https.listeners('secureConnection') as Array<(s: Socket) => void>;
    const toHttp1 = (s: Socket): void => { for (const l of http1) l.call(this.https, s); };
    this.https.removeAllListeners('secureConnection');
    this.https.on('secureConnection', (s: TLSSocket) => {
      const caller = this.#who.ofTls(s);
      if (caller === undefined) return; // not a mesh identity: refused, the socket is gone
      if (s.alpnProtocol === 'h2') { this.#h2.accept(s, { caller, address: remoteAddressOf(s), tls: true }); return; }
      this.#callers.set(s, caller);
      toHttp1(s);
    });
    this.https.on('upgrade', (req: IncomingMessage, s: Socket, head: Buffer) => serveWithoutUpgrade(req, s, head, toHttp1));
    // Asking a raw socket its address keeps it: a client refused late in the handshake has closed its socket by the
    // time tlsClientError reports it, and the refusal's log line should still say who it was.
    this.https.on('connection', (raw: Socket) => void raw.remoteAddress);
    this.https.on('tlsClientError', (err: Error, s: TLSSocket) => this.#who.handshakeRefused(err, s));
    this.https.on('request', (req, res) => this.#handle(req, res));
    if (!opts.permissive) {
      this.plain = undefined;
      this.listener = this.https;
      return;
    }
    this.plain = createHttpServer(timeouts, (req, res) => this.#handle(req, res));
    const plainToHttp1 = sniffH2c(this.plain, {
      onH2: (s) => this.#h2.accept(s, { caller: this.#unauthenticated, address: s.remoteAddress, tls: false }),
      firstByteTimeoutMs: timeouts.headersTimeout,
      pending: this.#sniffing,
    });
    this.plain.on('upgrade', (req: IncomingMessage, s: Socket, head: Buffer) => serveWithoutUpgrade(req, s, head, plainToHttp1));
    this.listener = createNetServer((socket) => this.#sniff(socket));
  }

  #sniff(socket: Socket): void {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      if (chunk[0] === TLS_HANDSHAKE) this.https.emit('connection', new PrefixedSocket(socket, chunk));
      else {
        socket.unshift(chunk);
        this.#who.notePlaintext(socket.remoteAddress ?? 'unknown');
        this.plain!.emit('connection', socket);
      }
      socket.resume();
    });
    socket.on('error', () => socket.destroy());
  }

  /**
   * ALPN: h2 for callers that offer only h2 (gRPC clients, mesh proxies), and for callers that offer both
   * when the app speaks h2c; otherwise http/1.1, as before. Nothing in common = the handshake is refused.
   */
  #alpn(protocols: string[]): string | undefined {
    const h1 = protocols.includes('http/1.1');
    if (protocols.includes('h2') && (this.#appSpeaksH2 || !h1)) return 'h2';
    return h1 ? 'http/1.1' : undefined;
  }

  /** Asks the app now and every 15 s whether it speaks h2c (apps start, restart and change). */
  #probeApp(): void {
    void probeH2c(this.opts.app, BUILTIN_DEFAULTS.connectTimeoutMs).then((ok) => {
      this.#appSpeaksH2 = ok;
      if (this.#probeTimer !== null) this.#probeTimer = setTimeout(() => this.#probeApp(), 15_000).unref();
    });
  }

  get draining(): boolean { return this.#draining; }

  /** Draining also sends GOAWAY on every HTTP/2 connection, so their callers take new calls elsewhere. */
  set draining(on: boolean) {
    this.#draining = on;
    if (on) this.#h2.goaway();
  }

  /** Applies the policy to one request and counts the decision; returns the refusal, or undefined when allowed. */
  #authorize(caller: Caller, method: string, url: string): { message: string; rule: string } | undefined {
    const policy = this.opts.policy?.policy ?? null;
    if (policy !== null) {
      const d = evaluate(policy, { from: caller.from, to: this.opts.service, method, path: url });
      if (!d.allowed) {
        this.stats.denied++;
        caller.counts.denied++;
        return { message: `${caller.from ?? 'an unauthenticated caller'} may not ${method} ${d.path ?? url} on ${this.opts.service}`, rule: d.rule };
      }
    }
    caller.counts.allowed++;
    return undefined;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#draining) res.shouldKeepAlive = false;
    const caller = this.#callers.get(req.socket) ?? this.#unauthenticated;
    if (caller.id === null) this.stats.plaintextRequests++; else this.stats.mtlsRequests++;
    const url = req.url!;
    if (url.charCodeAt(0) !== 47) return reply(res, 400, 'MESH_ERR_BAD_REQUEST', 'bad-request', 'the inbound sidecar takes origin-form request targets (/path)');
    const denied = this.#authorize(caller, req.method!, url);
    if (denied !== undefined) return reply(res, 403, 'MESH_ERR_FORBIDDEN', 'forbidden', denied.message, denied.rule);
    const headers = upstreamHeaders(req.rawHeaders, remoteAddressOf(req.socket), undefined, this.#underscores);
    if (typeof headers === 'string') return reply(res, 400, 'MESH_ERR_BAD_REQUEST', 'bad-request', headers);
    const out = withClientId(headers, caller.id);
    if ((req.socket as TLSSocket).encrypted === true) markHttps(out);
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    const hasBody = te !== undefined || (cl !== undefined && cl !== '0');
    const span = this.opts.tracer === undefined ? undefined : this.#serverSpan(out, req.method!, url, '1.1', false, caller, remoteAddressOf(req.socket));
    new Exchange(req, res, this.#app, this.#pools, this.#settings, undefined, undefined, undefined, url, out, hasBody, undefined, span).start();
  }

  /** One HTTP/2 stream: the same checks and header rules as #handle, then h2c to the app. */
  #handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, conn: H2Conn): void {
    // Draining: this stream is served, then GOAWAY tells the caller to take new calls elsewhere.
    if (this.#draining) stream.session?.close();
    const { caller } = conn;
    if (caller.id === null) this.stats.plaintextRequests++; else this.stats.mtlsRequests++;
    const contentType = headers['content-type'];
    const grpc = contentType !== undefined && contentType.startsWith('application/grpc');
    const method = headers[':method'] ?? 'GET';
    const path = headers[':path'];
    if (method === 'CONNECT' || path === undefined || path.charCodeAt(0) !== 47) {
      sendH2Error(stream, grpc, 'bad-request', 'the inbound sidecar takes origin-form request targets (/path), not CONNECT');
      return;
    }
    const denied = this.#authorize(caller, method, path);
    if (denied !== undefined) { sendH2Forbidden(stream, grpc, denied.message, denied.rule); return; }
    const authority = headers[':authority'] ?? headers.host ?? this.opts.service;
    const out = withClientId(forwardedHeaders(headers, conn.address, authority, this.#underscores), caller.id);
    if (conn.tls) markHttps(out);
    const span = this.opts.tracer === undefined ? undefined : this.#serverSpan(out, method, path, '2', grpc, caller, conn.address);
    const req = { method, path, headers: requestHeaders(method, path, authority, out), hasBody: !stream.endAfterHeaders, grpc };
    new H2Exchange(stream, req, this.#app, this.#appH2, this.#settings, undefined, undefined, undefined, undefined, span).start();
  }

  /**
   * Tracing on: the request's traceparent is continued with a new span id (the app's own spans then hang under
   * this server span), and the span is recorded when the trace is sampled.
   */
  #serverSpan(headers: string[], method: string, path: string, protocol: string, grpc: boolean, caller: Caller, address: string | undefined): Span | undefined {
    const tracer = this.opts.tracer!;
    const ids = applyTraceContext(headers, tracer);
    if (!ids.sampled) return undefined;
    const span = tracer.startSpan(SpanKind.server, ids, this.opts.service, method, path, protocol, grpc, ids.requestId);
    if (caller.id !== null) span.callerId = caller.id;
    span.peerAddress = address;
    return span;
  }

  async close(): Promise<void> {
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
    this.#h2.destroy();
    for (const s of this.#sniffing) s.destroy();
    await Promise.all([this.#pools.close(), this.#appH2.close()]);
  }
}

/** Drops every caller-sent x-mesh-client-id (any case) and sets ours; unauthenticated callers get none. */
export function withClientId(headers: string[], id: string | null): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() !== CLIENT_ID_HEADER) out.push(headers[i]!, headers[i + 1]!);
  if (id !== null) out.push(CLIENT_ID_HEADER, id);
  return out;
}

/**
 * The app behind a TLS caller was reached over TLS: `x-forwarded-proto: https`, whatever the caller's proxy
 * said about its own client (upstreamHeaders adds `http` when no hop set it). Every copy is replaced, in place.
 */
export function markHttps(headers: string[]): void {
  let seen = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length !== 17 || headers[i]!.toLowerCase() !== 'x-forwarded-proto') continue;
    if (seen) { headers.splice(i, 2); i -= 2; continue; }
    headers[i + 1] = 'https';
    seen = true;
  }
  if (!seen) headers.push('x-forwarded-proto', 'https');
}

function reply(res: ServerResponse, status: number, code: keyof typeof ErrorCodes, cause: MeshErrorCause | 'forbidden', message: string, rule?: string): void {
  const body = JSON.stringify({ error: { code, message, ...(rule === undefined ? {} : { rule }) } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-mesh-error': cause, 'cache-control': 'no-store' });
  res.end(body);
}

/** The local app as a one-endpoint service for Exchange: no balancing, no retries (the caller's proxy retries). */
function appService(service: string, address: string, _stats: InboundStats): ForwardService {
  const ep: BalancerEndpoint = { key: `${service}/app`, address, weight: 1, inFlight: 0, ewmaMs: 0, ewmaStamp: 0 };
  return {
    name: service,
    pick: () => ep,
    tryStarted: () => { ep.inFlight++; },
    tryEnded: () => { ep.inFlight--; },
    takeRetry: () => false,
    requestEnded: () => undefined,
  };
}
