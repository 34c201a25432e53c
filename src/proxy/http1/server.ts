// The proxy's listener: node:http in, routing by the registry's names, forwarding through Exchange.
// Node's parser already refuses Content-Length with Transfer-Encoding, invalid header names, obs-fold and
// oversized headers with 400/431; this file adds what it lets through: two Host headers, and requests that
// name no service. Slowloris protection comes from the header and request timeouts set below.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { settingsFor } from '../../config/proxy-config.js';
import { sendMeshError, type MeshErrorCause } from '../errors-response.js';
import { applyTraceContext, continueTrace, ensureRequestId, newRequestId, type AppliedTrace } from '../../metrics/trace.js';
import type { AccessLog } from '../../metrics/access-log.js';
import { Exchange } from './forward.js';
import { upstreamHeaders } from '../headers/hop-headers.js';
import { SpanKind } from '../../tracing/span.js';
import { createH2Front } from '../h2/server.js';
import { sniffH2c } from '../h2/sniff.js';
import { chooseRoute, targetOf } from '../router.js';
import { handleUpgrade } from './websocket.js';
import { offersWebSocket, serveWithoutUpgrade } from './upgrade.js';
import { applyFault, pickFault } from '../fault-injection.js';
import type { ServiceDirectory } from '../attempt/forward-service.js';
import type { ProxyServerDeps } from '../server-deps.js';

export interface ProxyServerOptions {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  maxHeaderSize?: number;
}

export function createProxyServer(deps: ProxyServerDeps, opts: ProxyServerOptions = {}): Server {
  const server = createServer({
    // Slowloris: a client gets this long to send its headers, and this long for the whole request.
    headersTimeout: opts.headersTimeoutMs ?? 10_000,
    requestTimeout: opts.requestTimeoutMs ?? 300_000,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    maxHeaderSize: opts.maxHeaderSize ?? 16_384,
    // Node checks those timeouts on this period (30 s by default), which would let a slow client linger.
    connectionsCheckingInterval: 1_000,
    noDelay: true,
    // Node's own Host check answers a bare 400 with no body; targetOf() refuses a missing Host with the mesh's
    // JSON 400 instead (and an absolute-form URI names its authority, RFC 9112 §3.2.2).
    requireHostHeader: false,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handleRequest(deps, req, res));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, deps.accessLog));
  // Without a listener Node drops a CONNECT silently; the mesh never tunnels to an address, so it says so.
  server.on('connect', (req: IncomingMessage, socket: Socket) => refuseConnect(req, socket, deps.accessLog));
  // h2c with prior knowledge (gRPC) on the same port: the connection's first bytes pick the server.
  const h2 = createH2Front(deps, deps.h2Sessions ?? new Set());
  const toHttp1 = sniffH2c(server, { onH2: h2.accept, firstByteTimeoutMs: opts.headersTimeoutMs ?? 10_000, pending: deps.tunnels });
  // Only WebSocket is tunnelled; any other Upgrade (h2c...) is served as a plain request (upgrade.ts).
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (offersWebSocket(req.headers.upgrade)) handleUpgrade(deps, req, socket, head);
    else serveWithoutUpgrade(req, socket, head, toHttp1);
  });
  return server;
}

function handleRequest(deps: ProxyServerDeps, req: IncomingMessage, res: ServerResponse): void {
  if (deps.draining()) res.shouldKeepAlive = false;
  const raw = req.rawHeaders;
  const target = targetOf(req.url!, req.headers.host);
  if (typeof target === 'string') {
    refuse(deps, req, res, 'bad-request', target, req.headers.host ?? '', req.url!, undefined);
    return;
  }
  const absolute = req.url!.charCodeAt(0) !== 47;
  const service = target.service === null ? undefined : deps.directory.get(target.service);
  const settings = service === undefined ? undefined : settingsFor(deps.config(), service.name);
  const underscores = settings === undefined || settings.allowUnderscoresInHeaders ? undefined : service;
  const headers = upstreamHeaders(raw, req.socket.remoteAddress, absolute ? target.authority : undefined, underscores);
  if (typeof headers === 'string') {
    refuse(deps, req, res, 'bad-request', headers, target.authority, target.path, undefined);
    return;
  }
  // W3C trace context and x-request-id travel upstream on every request (continued or started here).
  const tracer = deps.tracer;
  const ids = applyTraceContext(headers, tracer);
  if (service === undefined || settings === undefined) {
    refuse(deps, req, res, 'no-such-service', target.service === null
      ? `"${target.authority}" does not name a service: use http://<service>/ or Host: <service>[.mesh]`
      : `no service named "${target.service}" is registered`, target.authority, target.path, ids);
    return;
  }
  const choice = settings.routes.length === 0 ? undefined : chooseRoute(settings.routes, target.matchPath, (n) => headerValue(req, n), deps.random);
  const fault = pickFault(deps, service.name, target.matchPath);
  // Positional arguments: the common path (no fault) allocates nothing extra.
  if (fault === undefined) admitAndForward(deps, req, res, service, settings, choice, target, headers, ids);
  else {
    applyFault(deps, service, fault, {
      method: req.method ?? '', authority: target.authority, path: target.path, requestId: ids.requestId, traceId: ids.traceId,
      forward: () => admitAndForward(deps, req, res, service, settings, choice, target, headers, ids),
      clientGone: () => res.destroyed,
      answer: (status, message) => sendMeshError(res, 'fault-injected', message, status),
      reset: () => req.socket.destroy(),
    });
  }
}

function admitAndForward(
  deps: ProxyServerDeps, req: IncomingMessage, res: ServerResponse,
  service: NonNullable<ReturnType<ServiceDirectory['get']>>, settings: ReturnType<typeof settingsFor>, choice: ReturnType<typeof chooseRoute> | undefined,
  target: { authority: string; path: string }, headers: Exclude<ReturnType<typeof upstreamHeaders>, string>, ids: AppliedTrace,
): void {
  const tracer = deps.tracer;
  if (!service.admit(settings.maxConcurrent)) {
    service.refused('circuit-open');
    refuse(deps, req, res, 'circuit-open', `service "${service.name}" is at its limit of ${settings.maxConcurrent} concurrent requests`, target.authority, target.path, ids);
    return;
  }
  let hashKey: string | undefined;
  if (settings.policy === 'consistent-hash') {
    hashKey = settings.hashHeader === undefined ? req.socket.remoteAddress : headerValue(req, settings.hashHeader) ?? req.socket.remoteAddress;
  }
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  const hasBody = te !== undefined || (cl !== undefined && cl !== '0');
  const access = deps.accessLog === undefined ? undefined : { log: deps.accessLog, authority: target.authority, requestId: ids.requestId, traceId: ids.traceId };
  const span = tracer === undefined || !ids.sampled ? undefined : tracer.startSpan(SpanKind.client, ids, service.name, req.method!, target.path, '1.1', false, ids.requestId);
  new Exchange(req, res, service, deps.pools, settings, choice?.rule, choice?.subset, hashKey, target.path, headers, hasBody, access, span).start();
}

/**
 * Answers a request the proxy refuses before forwarding anything, and gives it its access-log line (with
 * the cause and the request/trace ids the client sent, or new ones), so refusals are as visible as the rest.
 */
function refuse(deps: ProxyServerDeps, req: IncomingMessage, res: ServerResponse, cause: MeshErrorCause, message: string,
  authority: string, path: string, ids: { requestId: string; traceId: string } | undefined): void {
  const sent = sendMeshError(res, cause, message);
  const log = deps.accessLog;
  if (log === undefined) return;
  log.record({
    method: req.method ?? '', authority, path, status: res.statusCode, error: cause, durationMs: 0, upstream: null, bytesIn: 0, bytesOut: sent,
    requestId: ids?.requestId ?? ensureRequestId(req.headers['x-request-id']), traceId: ids?.traceId ?? continueTrace(req.headers.traceparent).traceId,
  });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Parser errors (bad framing, bad header names, oversized headers): a JSON 400/431 instead of Node's bare one.
 * Logged with empty method/authority/path: the parser gave up before those were known.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket, accessLog: AccessLog | undefined): void {
  if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooLarge ? '431 Request Header Fields Too Large' : timeout ? '408 Request Timeout' : '400 Bad Request';
  const message = tooLarge ? 'request headers are too large' : timeout ? 'the request took too long to arrive' : `malformed request (${err.code ?? 'parse error'})`;
  const body = JSON.stringify({ error: { code: 'MESH_ERR_BAD_REQUEST', message } });
  accessLog?.record({
    method: '', authority: '', path: '', status: Number(status.slice(0, 3)), error: 'bad-request', durationMs: 0, upstream: null,
    bytesIn: 0, bytesOut: Buffer.byteLength(body), requestId: newRequestId(), traceId: continueTrace(undefined).traceId,
  });
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-mesh-error: bad-request\r\nconnection: close\r\n\r\n${body}`);
}

/** CONNECT asks for a raw tunnel to an address; the mesh routes by service name only, so it is refused (405). */
function refuseConnect(req: IncomingMessage, socket: Socket, accessLog: AccessLog | undefined): void {
  const body = JSON.stringify({ error: { code: 'MESH_ERR_METHOD_NOT_ALLOWED', message: 'CONNECT tunnels are not supported: send http://<service>/path through the proxy, or Host: <service>' } });
  accessLog?.record({
    method: 'CONNECT', authority: req.url ?? '', path: '', status: 405, error: 'method-not-allowed', durationMs: 0, upstream: null,
    bytesIn: 0, bytesOut: Buffer.byteLength(body), requestId: ensureRequestId(req.headers['x-request-id']), traceId: continueTrace(req.headers.traceparent).traceId,
  });
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-mesh-error: method-not-allowed\r\nconnection: close\r\n\r\n${body}`);
}
