// Test helpers for the proxy: child-process backends (killable with SIGKILL), a real `mesh proxy start`,
// and a small HTTP client that sends requests through the proxy in absolute form or by Host.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, Agent, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runMesh, startMesh, type Daemon } from './mesh.js';
import { startRegistry } from './registry.js';

type After = { after(fn: () => Promise<void> | void): void };

const BACKEND_JS = join(fileURLToPath(new URL('.', import.meta.url)), 'backend-child.js');

export interface Backend {
  name: string;
  port: number;
  address: string;
  child: ChildProcess;
  /** Sets failure/slowness for later requests (status 0 and delay 0 = normal). */
  mode(status: number, delayMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startBackend(t: After, name: string, port = 0): Promise<Backend> {
  const child = spawn(process.execPath, [BACKEND_JS, name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } });
  const actual = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`backend ${name} exited (${code}) before listening`)));
  });
  return {
    name,
    port: actual,
    address: `127.0.0.1:${actual}`,
    child,
    async mode(status, delayMs = 0) {
      await get(`http://127.0.0.1:${actual}/__mode?status=${status}&delayMs=${delayMs}`);
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export interface TestProxy {
  daemon: Daemon;
  port: number;
  adminPort: number;
  admin: string;
}

export async function startProxy(t: After, registryUrl: string, extra: string[] = []): Promise<TestProxy> {
  const port = await freePort();
  const adminPort = await freePort();
  const daemon = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--registry', registryUrl, ...extra]);
  t.after(async () => { await daemon.stop('SIGKILL'); });
  await daemon.waitFor(/mesh proxy: listening on/);
  return { daemon, port, adminPort, admin: `http://127.0.0.1:${adminPort}` };
}

export async function register(registryUrl: string, service: string, b: { address: string; name: string }, flags: string[] = []): Promise<void> {
  const r = await runMesh(['register', service, '--address', b.address, '--id', b.name, '--registry', registryUrl, ...flags]);
  if (r.code !== 0) throw new Error(`mesh register failed: ${r.stderr}`);
}

/**
 * Service "orders" with two priority-0 primaries (p1, p2) and a priority-1 backup, registered without health
 * checks, and a proxy started with `extra` flags.
 */
export async function primariesAndBackup(t: After, extra: string[] = []): Promise<{ registryUrl: string; proxy: TestProxy; p1: Backend; p2: Backend; backup: Backend }> {
  const reg = await startRegistry(t);
  const p1 = await startBackend(t, 'p1');
  const p2 = await startBackend(t, 'p2');
  const backup = await startBackend(t, 'backup');
  await register(reg.url, 'orders', p1);
  await register(reg.url, 'orders', p2);
  await register(reg.url, 'orders', backup, ['--priority', '1']);
  const proxy = await startProxy(t, reg.url, extra);
  return { registryUrl: reg.url, proxy, p1, p2, backup };
}

export interface Reply { status: number; headers: IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** A request through the proxy: `via: 'absolute'` sends `GET http://<service>/path` (HTTP_PROXY style). */
export function viaProxy(proxyPort: number, service: string, path: string, opts: { via?: 'absolute' | 'host'; method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<Reply> {
  const absolute = (opts.via ?? 'absolute') === 'absolute';
  return send({
    host: '127.0.0.1', port: proxyPort, method: opts.method ?? 'GET',
    path: absolute ? `http://${service}${path}` : path,
    headers: { ...(absolute ? {} : { host: service }), ...opts.headers },
    agent,
  }, opts.body, opts.timeoutMs);
}

export function get(url: string): Promise<Reply> {
  const u = new URL(url);
  return send({ host: u.hostname, port: Number(u.port), path: u.pathname + u.search, method: 'GET', agent });
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await get(url);
  return JSON.parse(r.body) as T;
}

function send(options: RequestOptions, body?: Buffer | string, timeoutMs = 15_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The instance name a reply came from (the backends put it in x-instance). */
export function instanceOf(r: Reply): string {
  return String(r.headers['x-instance'] ?? '');
}
