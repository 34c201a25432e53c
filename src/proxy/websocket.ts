// WebSocket pass-through (the only Upgrade that is tunnelled: upgrade.ts). After routing and picking like any
// request, the proxy opens a raw TCP connection to the endpoint, sends the request head with the same header
// rules as any HTTP/1.1 request (hop-by-hop and underscore headers dropped, X-Forwarded-* set) plus
// `Connection: Upgrade` and `Upgrade: websocket` — other tokens the client offered beside websocket (h2c...)
// are not passed on — and then splices the two sockets: whatever the upstream answers (101 or a refusal) goes
// to the client byte for byte.
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { settingsFor } from '../config/proxy-config.js';
import { statusOf, type MeshErrorCause } from './errors-response.js';
import { upstreamHeaders } from './hop-headers.js';
import { targetOf } from './router.js';
import type { ProxyServerDeps } from './server.js';

export function handleUpgrade(deps: ProxyServerDeps, req: IncomingMessage, client: Socket, head: Buffer): void {
  client.on('error', () => client.destroy());
  deps.tunnels.add(client);
  client.once('close', () => deps.tunnels.delete(client));
  const target = targetOf(req.url!, req.headers.host);
  if (typeof target === 'string') return refuse(client, 'bad-request', target);
  const service = target.service === null ? undefined : deps.directory.get(target.service);
  if (service === undefined) return refuse(client, 'no-such-service', `no service named "${target.service ?? target.authority}" is registered`);
  const settings = settingsFor(deps.config(), service.name);
  const absolute = req.url!.charCodeAt(0) !== 47;
  const headers = upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, absolute ? target.authority : undefined,
    settings.allowUnderscoresInHeaders ? undefined : service);
  if (typeof headers === 'string') return refuse(client, 'bad-request', headers);
  if (!service.admit(settings.maxConcurrent)) {
    service.refused('circuit-open');
    return refuse(client, 'circuit-open', `service "${service.name}" is at its concurrency limit`);
  }
  const started = performance.now();
  const ep = service.pick(undefined, settings.policy === 'consistent-hash' ? req.socket.remoteAddress : undefined, undefined);
  if (typeof ep === 'string') {
    service.requestEnded(503, 0, false, ep);
    return refuse(client, ep, `service "${service.name}" has no healthy endpoint`);
  }
  service.tryStarted(ep);
  const [host, port] = splitAddress(ep.address);
  const upstream = connect({ host, port, noDelay: true, timeout: settings.connectTimeoutMs });
  let connected = false;
  let ended = false;
  const end = (ok: boolean, status: number) => {
    if (ended) return;
    ended = true;
    service.tryEnded(ep, ok, performance.now() - started, status);
    service.requestEnded(status, performance.now() - started, false, ok ? undefined : 'upstream-connect');
  };
  upstream.on('timeout', () => { if (!connected) upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })); });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) {
      end(false, 502);
      refuse(client, 'upstream-connect', `cannot connect to ${ep.address} (${err.code ?? err.message})`);
    } else {
      client.destroy();
    }
  });
  upstream.on('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    let headText = `${req.method} ${target.path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) headText += `${headers[i]}: ${headers[i + 1]}\r\n`;
    headText += 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';
    upstream.write(headText, 'latin1');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  let clientGone = false;
  // A client that hangs up before the upstream answered the connect says nothing about the endpoint: 499, not blamed.
  upstream.on('close', () => { if (!connected && clientGone) end(true, 499); else end(connected, 101); client.destroy(); });
  client.on('close', () => { clientGone = true; upstream.destroy(); });
}

function refuse(socket: Socket, cause: MeshErrorCause, message: string): void {
  const code = cause === 'no-such-service' ? 'MESH_ERR_NO_SUCH_SERVICE' : cause === 'circuit-open' ? 'MESH_ERR_CIRCUIT_OPEN'
    : cause === 'no-healthy-endpoint' ? 'MESH_ERR_NO_HEALTHY_ENDPOINT' : cause === 'bad-request' ? 'MESH_ERR_BAD_REQUEST' : 'MESH_ERR_UPSTREAM_CONNECT';
  const body = JSON.stringify({ error: { code, message } });
  const status = statusOf(cause);
  if (!socket.writable) { socket.destroy(); return; }
  socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 502 ? 'Bad Gateway' : 'Service Unavailable'}\r\n`
    + `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-mesh-error: ${cause}\r\nconnection: close\r\n\r\n${body}`);
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [host, Number(address.slice(colon + 1))];
}
