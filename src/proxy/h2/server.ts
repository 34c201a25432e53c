// The HTTP/2 side of the proxy's listener: h2c connections (sniffed in h2-sniff.ts) are handed to a
// node:http2 server, and each stream is routed exactly as an HTTP/1.1 request is: by `:authority` as Host,
// through the same router, config, concurrency gate and service runtime, then forwarded by H2Exchange.
import { constants, createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { applyTraceContext, continueTrace, ensureRequestId, type AppliedTrace } from '../../metrics/trace.js';
import { settingsFor } from '../../config/proxy-config.js';
import { H2Exchange } from './forward.js';
import { forwardedHeaders, requestHeaders } from './headers.js';
import { sendH2Error } from './errors.js';
import { LOCAL_SETTINGS, openConnectionWindow } from './settings.js';
import { statusOf, type MeshErrorCause } from '../errors-response.js';
import { chooseRoute, targetOf } from '../router.js';
import { applyFault, pickFault } from '../fault-injection.js';
import type { ProxyServerDeps } from '../server-deps.js';
import { SpanKind } from '../../tracing/span.js';

/** An h2c connection with nothing going on for this long gets a GOAWAY. */
const SESSION_IDLE_MS = 300_000;

export interface H2Front {
  /** Takes a sniffed h2c connection (the preface is still in its buffer). */
  accept(socket: Socket): void;
}

export function createH2Front(deps: ProxyServerDeps, sessions: Set<ServerHttp2Session>): H2Front {
  const server: Http2Server = createServer({ settings: LOCAL_SETTINGS });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', noop);
    session.setTimeout(SESSION_IDLE_MS, () => session.close());
    openConnectionWindow(session);
  });
  server.on('sessionError', noop);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => handleStream(deps, stream, headers));
  return {
    accept: (socket) => {
      // The socket comes from the HTTP/1.1 server, which accepts half-open connections and handles the client's
      // FIN itself; node:http2 does not, so a client that hung up would leave its session (and every stream in
      // flight upstream) open until a timeout. Without half-open, the FIN closes the socket and the session.
      socket.allowHalfOpen = false;
      server.emit('connection', socket);
    },
  };
}

function handleStream(deps: ProxyServerDeps, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on('error', noop);
  // Draining: this stream is served, then GOAWAY tells the client to take new calls elsewhere.
  if (deps.draining()) stream.session?.close();
  const contentType = headers['content-type'];
  const grpc = contentType !== undefined && contentType.startsWith('application/grpc');
  const method = headers[':method'] ?? 'GET';
  const authority = headers[':authority'] ?? headers.host;
  const rawPath = headers[':path'];
  if (method === 'CONNECT' || rawPath === undefined) {
    refuse(deps, stream, grpc, headers, authority ?? '', rawPath ?? '', undefined, 'bad-request', 'CONNECT (and requests without :path) cannot be proxied over HTTP/2');
    return;
  }
  const target = targetOf(rawPath, authority);
  if (typeof target === 'string') {
    refuse(deps, stream, grpc, headers, authority ?? '', rawPath, undefined, 'bad-request', target);
    return;
  }
  const client = stream.session?.socket?.remoteAddress;
  const service = target.service === null ? undefined : deps.directory.get(target.service);
  const settings = service === undefined ? undefined : settingsFor(deps.config(), service.name);
  const flat = forwardedHeaders(headers, client, target.authority, settings === undefined || settings.allowUnderscoresInHeaders ? undefined : service);
  const tracer = deps.tracer;
  const ids = applyTraceContext(flat, tracer);
  if (service === undefined || settings === undefined) {
    refuse(deps, stream, grpc, headers, target.authority, target.path, ids, 'no-such-service', target.service === null
      ? `"${target.authority}" does not name a service: use :authority <service>[.mesh]`
      : `no service named "${target.service}" is registered`);
    return;
  }
  const choice = settings.routes.length === 0 ? undefined : chooseRoute(settings.routes, target.matchPath, (n) => headerValue(headers, n), deps.random);
  const fault = pickFault(deps, service.name, target.matchPath);
  // Positional arguments, as on HTTP/1.1: the common path (no fault) allocates nothing extra. A gRPC caller of an
  // abort gets UNAVAILABLE (errors.ts).
  if (fault === undefined) admitAndForward(deps, stream, headers, grpc, method, client, service, settings, choice, target, flat, ids);
  else {
    applyFault(deps, service, fault, {
      method, authority: target.authority, path: target.path, requestId: ids.requestId, traceId: ids.traceId,
      forward: () => admitAndForward(deps, stream, headers, grpc, method, client, service, settings, choice, target, flat, ids),
      clientGone: () => stream.destroyed,
      answer: (status, message) => sendH2Error(stream, grpc, 'fault-injected', message, status),
      reset: () => stream.close(constants.NGHTTP2_CANCEL),
    });
  }
}

function admitAndForward(
  deps: ProxyServerDeps, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, grpc: boolean, method: string, client: string | undefined,
  service: NonNullable<ReturnType<ProxyServerDeps['directory']['get']>>, settings: ReturnType<typeof settingsFor>, choice: ReturnType<typeof chooseRoute> | undefined,
  target: { authority: string; path: string }, flat: Exclude<ReturnType<typeof forwardedHeaders>, string>, ids: AppliedTrace,
): void {
  const tracer = deps.tracer;
  if (!service.admit(settings.maxConcurrent)) {
    service.refused('circuit-open');
    refuse(deps, stream, grpc, headers, target.authority, target.path, ids, 'circuit-open', `service "${service.name}" is at its limit of ${settings.maxConcurrent} concurrent requests`);
    return;
  }
  let hashKey: string | undefined;
  if (settings.policy === 'consistent-hash') {
    hashKey = settings.hashHeader === undefined ? client : headerValue(headers, settings.hashHeader) ?? client;
  }
  const upstream = requestHeaders(method, target.path, target.authority, flat);
  const access = deps.accessLog === undefined ? undefined : { log: deps.accessLog, authority: target.authority, requestId: ids.requestId, traceId: ids.traceId };
  const req = { method, path: target.path, headers: upstream, hasBody: !stream.endAfterHeaders, grpc };
  const span = tracer === undefined || !ids.sampled ? undefined : tracer.startSpan(SpanKind.client, ids, service.name, method, target.path, '2', grpc, ids.requestId);
  new H2Exchange(stream, req, service, deps.pools.h2, settings, choice?.rule, choice?.subset, hashKey, access, span).start();
}

/**
 * Answers a stream the proxy refuses before forwarding, and gives it its access-log line (with the body bytes
 * sent and the request/trace ids, the client's or new ones), as server.ts does for HTTP/1.1.
 */
function refuse(deps: ProxyServerDeps, stream: ServerHttp2Stream, grpc: boolean, headers: IncomingHttpHeaders, authority: string, path: string,
  ids: { requestId: string; traceId: string } | undefined, cause: MeshErrorCause, message: string): void {
  const sent = sendH2Error(stream, grpc, cause, message);
  deps.accessLog?.record({
    method: headers[':method'] ?? '', authority, path, status: statusOf(cause), error: cause, durationMs: 0, upstream: null, bytesIn: 0, bytesOut: sent,
    requestId: ids?.requestId ?? ensureRequestId(headerValue(headers, 'x-request-id')), traceId: ids?.traceId ?? continueTrace(headerValue(headers, 'traceparent')).traceId,
  });
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function noop(): void {}
