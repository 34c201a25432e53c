// HTTP/2 test backends and a small node:http2 client: h2-backend-child.js run as its own process (so a test can
// kill -9 it), requests on a client session that collect status, headers, body and trailers.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type After = { after(fn: () => Promise<void> | void): void };

const CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), 'h2-backend-child.js');

export interface H2Backend { name: string; grpc: string; h2: string; kill(): Promise<void> }

export async function startH2Backend(t: After, name: string): Promise<H2Backend> {
  const child: ChildProcess = spawn(process.execPath, [CHILD_JS, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } };
  t.after(kill);
  const [grpcPort, h2Port] = await new Promise<[number, number]>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening grpc=(\d+) h2=(\d+)/.exec(out);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`h2 backend ${name} exited (${code}) before listening`)));
  });
  return { name, grpc: `127.0.0.1:${grpcPort}`, h2: `127.0.0.1:${h2Port}`, kill };
}

export interface H2Reply { status: number; headers: IncomingHttpHeaders; body: Buffer; trailers: IncomingHttpHeaders | undefined }

export function h2Request(session: ClientHttp2Session, authority: string, path: string, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': opts.method ?? 'GET', ':path': path, ':authority': authority, ...opts.headers }, { endStream: opts.body === undefined });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.setTimeout(10_000, () => req.close());
    req.on('response', (h) => { headers = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
  });
}

export function h2Session(t: After, port: number): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  t.after(() => { session.destroy(); });
  return session;
}
