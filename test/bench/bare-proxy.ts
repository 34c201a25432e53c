// Floors for the HTTP/1.1 proxy benchmark: how little a Node proxy can spend per request, one layer at a time,
// so a mesh row can be read against what its building blocks cost before mesh does anything.
//
//   node dist/test/bench/bare-proxy.js <listen port> <upstream host:port> [undici|lean-upstream|raw]
//   → prints "listening" when ready; one upstream, no routing, metrics, tracing or retries.
//
//   undici         (default) node:http server → undici Pool.dispatch with a raw handler: the stack mesh is
//                  built on, so mesh's row minus this one is mesh's own per-request work.
//   lean-upstream  node:http server → a hand-written keep-alive HTTP/1.1 client on net sockets: what the
//                  upstream side would cost without undici.
//   raw            net server → net client, request and response bytes relayed after finding the header end:
//                  what Node itself (event loop, sockets, syscalls) costs, without any HTTP library.
// lean-upstream and raw relay only bodiless requests and Content-Length responses (what the benchmark sends);
// they measure costs and are not proxies anyone should run. Not a test: a benchmark target.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/mesh.js';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);
const HEAD_END = Buffer.from('\r\n\r\n');

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

function undiciProxy(port: number, upstream: string): void {
  const pool = new Pool(`http://${upstream}`, { connections: 128, keepAliveTimeout: 4_000 });
  createServer({ noDelay: true }, (req: IncomingMessage, res: ServerResponse) => {
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    const hasBody = te !== undefined || (cl !== undefined && cl !== '0');
    pool.dispatch({
      path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: withoutHopHeaders(req.rawHeaders),
      body: hasBody ? req : null,
    }, new Relay(res));
  }).listen(port, '127.0.0.1', ready);
}

/** Keep-alive sockets to the upstream, each reading one Content-Length response at a time. */
class LeanUpstream {
  private readonly idle: Socket[] = [];
  constructor(private readonly host: string, private readonly port: number) {}

  /** Sends `head` and calls back with the whole response (head and body) once it is in. */
  send(head: string | Buffer, done: (response: Buffer, headEnd: number) => void): void {
    const socket = this.idle.pop() ?? this.open();
    let got: Buffer | undefined;
    let need = -1;
    let headEnd = -1;
    (socket as Socket & { onResponse?: (d: Buffer) => void }).onResponse = (d: Buffer): void => {
      got = got === undefined ? d : Buffer.concat([got, d]);
      if (need < 0) {
        headEnd = got.indexOf(HEAD_END);
        if (headEnd < 0) return;
        const length = /content-length:\s*(\d+)/i.exec(got.toString('latin1', 0, headEnd));
        need = headEnd + 4 + (length === null ? 0 : Number(length[1]));
      }
      if (got.length < need) return;
      this.idle.push(socket);
      done(got.subarray(0, need), headEnd);
    };
    socket.write(head);
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (d: Buffer) => (socket as Socket & { onResponse?: (d: Buffer) => void }).onResponse?.(d));
    socket.on('error', () => socket.destroy());
    return socket;
  }
}

function leanUpstreamProxy(port: number, upstream: LeanUpstream): void {
  createServer({ noDelay: true }, (req: IncomingMessage, res: ServerResponse) => {
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    const raw = withoutHopHeaders(req.rawHeaders);
    for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    upstream.send(`${head}\r\n`, (response, headEnd) => {
      const lines = response.toString('latin1', 0, headEnd).split('\r\n');
      const headers: string[] = [];
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i]!.indexOf(':');
        headers.push(lines[i]!.slice(0, colon), lines[i]!.slice(colon + 1).trim());
      }
      res.writeHead(Number(lines[0]!.slice(9, 12)), withoutHopHeaders(headers));
      res.end(response.subarray(headEnd + 4));
    });
  }).listen(port, '127.0.0.1', ready);
}

function rawProxy(port: number, upstream: LeanUpstream): void {
  createNetServer({ noDelay: true }, (client) => {
    let got: Buffer | undefined;
    client.on('data', (d: Buffer) => {
      got = got === undefined ? d : Buffer.concat([got, d]);
      const end = got.indexOf(HEAD_END);
      if (end < 0) return;
      const head = got.subarray(0, end + 4);
      got = undefined;
      upstream.send(head, (response) => client.write(response));
    });
    client.on('error', () => client.destroy());
  }).listen(port, '127.0.0.1', ready);
}

function ready(): void {
  process.stdout.write('listening\n');
}

function main(): void {
  const [port, upstream, mode = 'undici'] = process.argv.slice(2);
  const colon = upstream?.lastIndexOf(':') ?? -1;
  if (port === undefined || upstream === undefined || colon < 0 || !['undici', 'lean-upstream', 'raw'].includes(mode)) {
    process.stderr.write('usage: bare-proxy <listen port> <upstream host:port> [undici|lean-upstream|raw]\n');
    process.exit(2);
  }
  if (mode === 'undici') undiciProxy(Number(port), upstream);
  else {
    const lean = new LeanUpstream(upstream.slice(0, colon), Number(upstream.slice(colon + 1)));
    if (mode === 'raw') rawProxy(Number(port), lean);
    else leanUpstreamProxy(Number(port), lean);
  }
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * The floor as a row of `npm run bench:proxy`: this file run as its own process in undici mode, pinned to the
 * proxy's CPU like the mesh rows, so its CPU per request is read from /proc the same way.
 */
export async function startBareProxy(opts: { backend: string; cpu: string | undefined; pinned: (cpu: string | undefined, cmd: string, args: string[]) => [string, string[]] }) {
  const port = await freePort();
  const [cmd, args] = opts.pinned(opts.cpu, process.execPath, [fileURLToPath(import.meta.url), String(port), opts.backend, 'undici']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout!.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`bare-proxy exited (${code}) before listening`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    // taskset execs node, so this pid is node's.
    name: 'floor: node:http + undici', url: `http://127.0.0.1:${port}/`, host: undefined, pids: () => [child.pid!],
    async stop() { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } },
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
