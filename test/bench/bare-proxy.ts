// The floor for the HTTP/1.1 proxy benchmark: the least a Node proxy on this stack can do per request — a bare
// node:http server relaying each request to one upstream through undici's Pool.dispatch with a raw handler
// (one object per request, no routing, metrics, tracing or retries). Whatever mesh costs above this row is
// mesh's own per-request work; what this row costs is node:http + undici + the socket syscalls.
//
//   node dist/test/bench/bare-proxy.js <listen port> <upstream host:port>   → prints "listening" when ready
//
// Only the hop-by-hop headers undici refuses or that must not be relayed are dropped (both directions), so
// the bytes on the wire match what mesh sends closely enough to compare. Not a test: a benchmark target.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

function withoutHopHeaders(raw: ReadonlyArray<string | Buffer>): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    if (!HOP.has(name.toLowerCase())) out.push(name, String(raw[i + 1]));
  }
  return out;
}

class Relay implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void { /* nothing to abort on */ }
  onHeaders(status: number, raw: Buffer[], _resume: () => void, text: string): boolean {
    if (status < 200) return true;
    this.res.writeHead(status, text || undefined, withoutHopHeaders(raw));
    return true;
  }
  onData(chunk: Buffer): boolean { return this.res.write(chunk); }
  onComplete(): void { this.res.end(); }
  onError(): void {
    if (this.res.headersSent) this.res.destroy();
    else { this.res.statusCode = 502; this.res.end(); }
  }
}

function main(): void {
  const [port, upstream] = process.argv.slice(2);
  if (port === undefined || upstream === undefined) {
    process.stderr.write('usage: bare-proxy <listen port> <upstream host:port>\n');
    process.exit(2);
  }
  const pool = new Pool(`http://${upstream}`, { connections: 128, keepAliveTimeout: 4_000 });
  const server = createServer({ noDelay: true }, (req: IncomingMessage, res: ServerResponse) => {
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    const hasBody = te !== undefined || (cl !== undefined && cl !== '0');
    pool.dispatch({
      path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: withoutHopHeaders(req.rawHeaders),
      body: hasBody ? req : null,
    }, new Relay(res));
  });
  server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => { server.close(); void pool.close(); server.closeAllConnections(); });
}

main();
