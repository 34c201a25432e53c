// Which Upgrade requests are tunnelled. Only WebSocket: a tunnel splices one client connection to one instance
// for as long as it lasts, outside balancing, retries, outlier detection and metrics — what a WebSocket needs
// and nothing else should get. Any other token (h2c from `curl --http2`, TLS/1.0, ...) is hop-by-hop
// (RFC 9110 §7.8) and is dropped: the request is answered as the plain HTTP/1.1 request it also is.
//
// Node emits 'upgrade' for every request that carries Upgrade once the server has an 'upgrade' listener, and by
// then it has handed the socket over (Node 20 has no shouldUpgradeCallback; without a listener it serves the
// request but stops parsing the connection after it, so a keep-alive client hangs). So the request head is
// written back onto the socket without its Upgrade header and the socket is given back to the HTTP server,
// which parses it afresh: the body, keep-alive and any pipelined requests behind it are framed by Node as for
// any other request, and the request takes the normal forwarding path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Whether an Upgrade header value offers WebSocket (alone or in a list such as `websocket, h2c`). */
export function offersWebSocket(upgrade: string | undefined): boolean {
  if (upgrade === undefined) return false;
  if (upgrade.length === 9) return upgrade.toLowerCase() === 'websocket';
  for (const token of upgrade.split(',')) if (token.trim().toLowerCase() === 'websocket') return true;
  return false;
}

/**
 * Gives an Upgrade request Node has handed over back to the HTTP server as a request without Upgrade.
 * `attach` is the server's own connection handler (the one that attaches Node's HTTP parser).
 */
export function serveWithoutUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, attach: (socket: Socket) => void): void {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 7 && name.toLowerCase() === 'upgrade') continue;
    text += `${name}: ${raw[i + 1]}\r\n`;
  }
  text += '\r\n';
  // Header values are latin1 strings of the bytes received, so latin1 writes back the same bytes.
  const replay = Buffer.from(text, 'latin1');
  socket.pause();
  socket.unshift(head.length === 0 ? replay : Buffer.concat([replay, head]));
  afterPendingResponses(socket, () => {
    if (socket.destroyed) return;
    attach(socket);
    socket.resume();
  });
}

/**
 * A pipelined Upgrade request can arrive while the answer to an earlier request on the connection is still
 * being sent; a second parser must not start answering on the socket before that response is done, or the two
 * would interleave. Node keeps the response that owns the socket in `_httpMessage` (there is no public API
 * for it), and hands the socket to the next queued one as each finishes, before our 'close' listener runs.
 */
function afterPendingResponses(socket: Socket, then: () => void): void {
  const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (pending === undefined || pending === null || socket.destroyed) { then(); return; }
  pending.once('close', () => afterPendingResponses(socket, then));
}
