// One listener for HTTP/1.1 and HTTP/2 cleartext with prior knowledge (h2c, what gRPC clients speak to a
// plaintext target): the first bytes of each connection decide. An h2c client opens with the fixed
// 24-byte connection preface; no HTTP/1.1 request line starts with "PRI ", so the first byte that differs
// from it settles the matter (by the second byte for PUT/POST/PATCH), and an HTTP/1.1 client costs one look
// at its first chunk per connection, never one per request.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** 'h2' = the whole preface is there; 'http1' = a byte differs; 'more' = a prefix of it so far. */
export function classifyPreface(buf: Buffer): 'h2' | 'http1' | 'more' {
  const n = Math.min(buf.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (buf[i] !== H2_PREFACE[i]) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : 'more';
}

export interface SniffOptions {
  /** Where h2c connections go (their sniffed bytes are back in the socket's buffer). */
  onH2(socket: Socket): void;
  /** A connection that sends nothing this long is closed (the HTTP server's timeouts do not see it yet). */
  firstByteTimeoutMs: number;
  /** Connections not yet handed to a server (shutdown must close them). */
  pending: Set<Socket>;
}

/**
 * Puts the sniff in front of an HTTP/1.1 server: its own 'connection' handler (which attaches Node's HTTP
 * parser) now runs only for connections that are not h2c, after their first chunk has been put back.
 * Returns that handler, for sockets that must go back to the HTTP/1.1 parser unsniffed (upgrade.ts).
 */
export function sniffH2c(server: Server, opts: SniffOptions): (socket: Socket) => void {
  const http1 = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const toHttp1 = (socket: Socket): void => { for (const l of http1) l.call(server, socket); };
  server.on('connection', (socket: Socket) => sniff(socket, toHttp1, opts));
  return toHttp1;
}

function sniff(socket: Socket, toHttp1: (socket: Socket) => void, opts: SniffOptions): void {
  let seen: Buffer | undefined;
  opts.pending.add(socket);
  const onTimeout = (): void => { socket.destroy(); };
  const onClose = (): void => { opts.pending.delete(socket); };
  const onError = (): void => { socket.destroy(); };
  socket.setTimeout(opts.firstByteTimeoutMs, onTimeout);
  socket.on('error', onError);
  socket.once('close', onClose);
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const verdict = classifyPreface(seen);
    if (verdict === 'more') return;
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onClose);
    socket.setTimeout(0, onTimeout);
    opts.pending.delete(socket);
    socket.pause();
    socket.unshift(seen);
    if (verdict === 'h2') {
      // Node's Http2Session reads what is already buffered when it takes the socket; resuming the JS stream
      // here would hand those bytes to nobody.
      opts.onH2(socket);
    } else {
      toHttp1(socket);
      socket.resume();
    }
  };
  socket.on('data', onData);
}
