// A real WebSocket client (undici's, the WHATWG WebSocket) talking to a service through the proxy: the URL names
// the service (ws://<service>.mesh/...), so the Host header routes it, and every connection goes to the proxy's
// port whatever the URL's host, the way a client configured with the mesh as its HTTP proxy by address would.
import { connect } from 'node:net';
import { Agent, WebSocket } from 'undici';

export type After = { after(fn: () => Promise<void> | void): void };

/** Opens `ws://<service>.mesh<path>` through the proxy on 127.0.0.1:`proxyPort`. */
export function wsViaProxy(t: After, proxyPort: number, service: string, path: string): WebSocket {
  const agent = new Agent({
    connect: (_opts, callback) => {
      const socket = connect(proxyPort, '127.0.0.1');
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (err) => callback(err, null));
    },
  });
  const ws = new WebSocket(`ws://${service}.mesh${path}`, { dispatcher: agent });
  t.after(async () => { ws.close(); await agent.close(); });
  return ws;
}

/** Resolves with the next message's text. */
export function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.addEventListener('message', (e) => resolve(String(e.data)), { once: true });
    ws.addEventListener('error', () => reject(new Error('websocket error')), { once: true });
  });
}

/** Resolves when the connection has closed (after a refused handshake too). */
export function closed(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
    ws.addEventListener('close', () => resolve(), { once: true });
  });
}

/** Opens, sends `text`, waits for one message back, then closes (the client starts the close handshake). */
export async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  await opened(ws);
  const reply = nextMessage(ws);
  ws.send(text);
  const answer = await reply;
  ws.close();
  await closed(ws);
  return answer;
}

/** Resolves when the handshake succeeded. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('websocket handshake failed')), { once: true });
  });
}
