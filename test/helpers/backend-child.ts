// A test backend run as its own process (so a test can kill -9 it): a node:http server that says which
// instance answered and can be told, over its own port, to fail or slow down. Usage:
//   node backend-child.js <name> [port] [host]     → prints "listening <port>" on stdout (host: 127.0.0.1)
// Paths: /__mode?status=503&delayMs=200 (sets behaviour for later requests; /__mode resets), /echo (streams
// the body back), /sink (counts the body), /bytes?n=N (streams N bytes), /slow?ms=N, /status?code=N,
// /trailers, /hop (answers with hop-by-hop headers); anything else answers JSON about the request.
// Upgrade: a minimal WebSocket echo for small text frames.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const name = process.argv[2] ?? 'backend';
const port = Number(process.argv[3] ?? '0');
const host = process.argv[4] ?? '127.0.0.1';
let failStatus = 0;
let delayMs = 0;

function info(req: IncomingMessage, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ instance: name, method: req.method, url: req.url, headers: req.headers, ...extra });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams;
  if (url.pathname === '/__mode') {
    failStatus = Number(q.get('status') ?? 0);
    delayMs = Number(q.get('delayMs') ?? 0);
    res.end('ok');
    return;
  }
  const answer = () => {
    if (failStatus !== 0) {
      res.writeHead(failStatus, { 'content-type': 'application/json', 'x-instance': name });
      res.end(info(req));
      return;
    }
    switch (url.pathname) {
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-instance': name });
        req.pipe(res);
        return;
      case '/sink': {
        let n = 0;
        req.on('data', (c: Buffer) => { n += c.length; });
        req.on('end', () => { res.writeHead(200, { 'x-instance': name }); res.end(JSON.stringify({ instance: name, bytes: n })); });
        return;
      }
      case '/bytes': {
        let left = Number(q.get('n') ?? 0);
        const chunk = Buffer.alloc(64 * 1024, 97);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left, 'x-instance': name });
        const pump = () => {
          while (left > 0) {
            const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= c.length;
            if (!res.write(c)) { res.once('drain', pump); return; }
          }
          res.end();
        };
        pump();
        return;
      }
      case '/slow':
        setTimeout(() => { res.writeHead(200, { 'x-instance': name }); res.end(info(req)); }, Number(q.get('ms') ?? 1000));
        return;
      case '/status':
        res.writeHead(Number(q.get('code') ?? 200), { 'x-instance': name });
        res.end(info(req));
        return;
      case '/trailers':
        res.writeHead(200, { 'x-instance': name, trailer: 'x-checksum' });
        res.write('part1,');
        res.write('part2');
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end();
        return;
      case '/hop':
        res.writeHead(200, { 'x-instance': name, connection: 'x-secret, keep-alive', 'x-secret': 'leak', 'keep-alive': 'timeout=5', 'proxy-authenticate': 'Basic', 'x-kept': 'yes' });
        res.end(info(req));
        return;
      default:
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'x-instance': name });
          res.end(req.method === 'HEAD' ? undefined : info(req));
        });
    }
  };
  if (delayMs > 0) setTimeout(answer, delayMs); else answer();
}

const server = createServer(handle);
server.keepAliveTimeout = 5_000;
server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
  const key = String(req.headers['sec-websocket-key'] ?? '');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nx-instance: ${name}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6) {
      const len = buf[1]! & 0x7f; // small frames only (< 126 bytes)
      if (buf.length < 6 + len) return;
      const mask = buf.subarray(2, 6);
      const payload = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]!));
      const opcode = buf[0]! & 0x0f;
      buf = buf.subarray(6 + len);
      if (opcode === 8) { socket.end(Buffer.from([0x88, 0])); return; }
      const reply = Buffer.from(`${name}:${payload.toString()}`);
      socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
    }
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, host, () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
