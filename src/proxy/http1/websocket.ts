// WebSocket pass-through (the only Upgrade that is tunnelled: upgrade.ts). After routing and picking like any
// request, the proxy opens a raw TCP connection to the endpoint, sends the request head with the same header
// rules as any HTTP/1.1 request (hop-by-hop and underscore headers dropped, X-Forwarded-* set) plus
// `Connection: Upgrade` and `Upgrade: websocket` — other tokens the client offered beside websocket (h2c...)
// are not passed on — and then splices the two sockets: whatever the upstream answers (101 or a refusal) goes
// to the client byte for byte. Metrics and the access log get the tunnel once it closes: the upstream's answer
// status, its duration and the bytes tunnelled each way, read from the sockets' own counters (nothing per chunk).
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { settingsFor } from '../../config/proxy-config.js';
import { statusOf, type MeshErrorCause } from '../errors-response.js';
import { upstreamHeaders } from '../headers/hop-headers.js';
import { targetOf } from '../router.js';
import type { ProxyServerDeps } from '../server-deps.js';
import { applyTraceContext, continueTrace, ensureRequestId } from '../../metrics/trace.js';

/**
 * The access-log line of one WebSocket request (only made when the log is on). A tunnel is logged when it
 * closes, with the upstream's answer status (101 when it accepted) and the bytes tunnelled each way; a
 * refusal with the status the proxy sent.
 */
type WsLogLine = (status: number, cause: MeshErrorCause | null, upstream: string | null, bytesIn: number, bytesOut: number) => void;

export function handleUpgrade(deps: ProxyServerDeps, req: IncomingMessage, client: Socket, head: Buffer): void {
  client.on('error', () => client.destroy());
  deps.tunnels.add(client);
  client.once('close', () => deps.tunnels.delete(client));
  const started = performance.now();
  const target = targetOf(req.url!, req.headers.host);
  let ids: { requestId: string; traceId: string } | undefined;
  const log = deps.accessLog;
  const logLine: WsLogLine | undefined = log === undefined ? undefined : (status, cause, upstream, bytesIn, bytesOut) => log.record({
    method: req.method ?? 'GET', authority: typeof target === 'string' ? req.headers.host ?? '' : target.authority,
    path: typeof target === 'string' ? req.url ?? '' : target.path, status, error: cause, durationMs: performance.now() - started, upstream,
    bytesIn, bytesOut, requestId: ids?.requestId ?? ensureRequestId(req.headers['x-request-id']), traceId: ids?.traceId ?? continueTrace(req.headers.traceparent).traceId,
  });
  const refused = (cause: MeshErrorCause, message: string, upstream: string | null = null): void => {
    const sent = refuse(client, cause, message);
    logLine?.(statusOf(cause), cause, upstream, 0, sent);
  };
  if (typeof target === 'string') return refused('bad-request', target);
  const service = target.service === null ? undefined : deps.directory.get(target.service);
  if (service === undefined) return refused('no-such-service', `no service named "${target.service ?? target.authority}" is registered`);
  const settings = settingsFor(deps.config(), service.name);
  const absolute = req.url!.charCodeAt(0) !== 47;
  const headers = upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, absolute ? target.authority : undefined,
    settings.allowUnderscoresInHeaders ? undefined : service);
  if (typeof headers === 'string') return refused('bad-request', headers);
  // Trace context and x-request-id travel upstream as on any request, and give the log line its ids.
  ids = applyTraceContext(headers);
  if (!service.admit(settings.maxConcurrent)) {
    service.refused('circuit-open');
    return refused('circuit-open', `service "${service.name}" is at its concurrency limit`);
  }
  const ep = service.pick(undefined, settings.policy === 'consistent-hash' ? req.socket.remoteAddress : undefined, undefined);
  if (typeof ep === 'string') {
    service.requestEnded(503, 0, false, ep);
    return refused(ep, `service "${service.name}" has no healthy endpoint`);
  }
  service.tryStarted(ep);
  const [host, port] = splitAddress(ep.address);
  const upstream = connect({ host, port, noDelay: true, timeout: settings.connectTimeoutMs });
  let connected = false;
  let ended = false;
  /** The upstream's answer status (101 = accepted), read from its first bytes; 0 until it answers. */
  let answer = 0;
  /** Bytes of the request head this proxy wrote and of the answer head it relayed: not tunnelled payload. */
  let requestHead = 0;
  let answerHead = 0;
  const end = (ok: boolean, status: number, cause: MeshErrorCause | undefined) => {
    if (ended) return;
    ended = true;
    const durationMs = performance.now() - started;
    service.tryEnded(ep, ok, durationMs, status);
    service.requestEnded(status, durationMs, false, cause);
    if (!connected) return;
    const toUpstream = Math.max(0, upstream.bytesWritten - requestHead);
    const fromUpstream = Math.max(0, upstream.bytesRead - answerHead);
    service.bodyBytes?.(ep, toUpstream, fromUpstream);
    logLine?.(status, cause ?? null, ep.address, toUpstream, fromUpstream);
  };
  upstream.on('timeout', () => { if (!connected) upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })); });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) {
      end(false, 502, 'upstream-connect');
      refused('upstream-connect', `cannot connect to ${ep.address} (${err.code ?? err.message})`, ep.address);
    } else {
      client.destroy();
    }
  });
  upstream.once('data', (first: Buffer) => {
    // "HTTP/1.1 101 ..." — the status sits at bytes 9..11. A head split over two reads is counted as payload.
    if (first.length >= 12 && first.toString('latin1', 0, 5) === 'HTTP/') answer = Number(first.toString('latin1', 9, 12)) || 0;
    const headEnd = first.indexOf('\r\n\r\n');
    if (headEnd >= 0) answerHead = headEnd + 4;
  });
  upstream.on('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    let headText = `${req.method} ${target.path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) headText += `${headers[i]}: ${headers[i + 1]}\r\n`;
    headText += 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';
    requestHead = Buffer.byteLength(headText, 'latin1');
    upstream.write(headText, 'latin1');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  let clientGone = false;
  // A client that hangs up before the upstream answered the connect says nothing about the endpoint: 499, not
  // blamed, and logged with status 0 like any request whose client left before an answer.
  upstream.on('close', () => {
    if (!connected && clientGone) { end(true, 499, undefined); logLine?.(0, null, ep.address, 0, 0); }
    // Connected but closed before any answer: the endpoint reset the request (status 0, as for HTTP).
    else if (connected) end(answer !== 0 && answer < 500, answer, answer === 0 ? 'upstream-reset' : undefined);
    client.destroy();
  });
  client.on('close', () => { clientGone = true; upstream.destroy(); });
}

/** Answers a refused Upgrade and closes the socket; returns the body bytes sent (for the access log). */
function refuse(socket: Socket, cause: MeshErrorCause, message: string): number {
  const code = cause === 'no-such-service' ? 'MESH_ERR_NO_SUCH_SERVICE' : cause === 'circuit-open' ? 'MESH_ERR_CIRCUIT_OPEN'
    : cause === 'no-healthy-endpoint' ? 'MESH_ERR_NO_HEALTHY_ENDPOINT' : cause === 'bad-request' ? 'MESH_ERR_BAD_REQUEST' : 'MESH_ERR_UPSTREAM_CONNECT';
  const body = JSON.stringify({ error: { code, message } });
  const status = statusOf(cause);
  if (!socket.writable) { socket.destroy(); return 0; }
  const length = Buffer.byteLength(body);
  socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 502 ? 'Bad Gateway' : 'Service Unavailable'}\r\n`
    + `content-type: application/json\r\ncontent-length: ${length}\r\nx-mesh-error: ${cause}\r\nconnection: close\r\n\r\n${body}`);
  return length;
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [host, Number(address.slice(colon + 1))];
}
