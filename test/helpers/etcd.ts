// A real etcd for tests and benchmarks: one member on loopback ephemeral ports with a temporary data dir.
// It can be stopped and started again on the same dir and ports, which is how the outage tests work.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { RegistryClient } from '../../src/registry/client.js';
import { freePort, startMesh, tempDir } from './mesh.js';
import type { TestRegistry } from './registry.js';

/** The etcd binary, or undefined when it is not installed (the etcd tests then skip, saying why). */
export function findEtcd(): string | undefined {
  const fromEnv = process.env.ETCD_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const p = join(dir, 'etcd');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export const ETCD_SKIP = findEtcd() === undefined
  ? 'etcd is not installed (apt-get install etcd-server, or set ETCD_BIN); the etcd tests need a real etcd'
  : false;

export interface EtcdProcess {
  /** The client URL, e.g. http://127.0.0.1:23791 */
  url: string;
  dataDir: string;
  /** Stops the process (SIGTERM, SIGKILL after 5 s); the data dir stays. */
  stop(): Promise<void>;
  /** Starts it again on the same data dir and ports, and waits until it is healthy. */
  start(): Promise<void>;
  /** Stops it and removes the data dir. */
  destroy(): Promise<void>;
  running(): boolean;
  /** What etcd printed (for failure messages). */
  output(): string;
}

/** Starts a one-member etcd and resolves once /health answers true. */
export async function startEtcd(opts: { ready?: number } = {}): Promise<EtcdProcess> {
  const bin = findEtcd();
  if (bin === undefined) throw new Error(String(ETCD_SKIP));
  const dir = tempDir('mesh-etcd-');
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 't', '--data-dir', join(dir.path, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `t=${peer}`, '--log-level', 'warn', '--logger', 'zap',
  ];
  let child: ChildProcess | undefined;
  let out = '';
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const deadline = Date.now() + (opts.ready ?? 15_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`etcd exited at start (${c.exitCode ?? c.signalCode}):\n${out}`);
      if (await healthy(url)) return;
      if (Date.now() > deadline) { c.kill('SIGKILL'); throw new Error(`etcd at ${url} did not become healthy:\n${out}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url,
    dataDir: dir.path,
    stop,
    start,
    async destroy() { await stop(); dir.cleanup(); },
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    output: () => out,
  };
}

function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(res.statusCode === 200 && body.includes('true')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

/** A real `mesh registry start --store etcd` on an ephemeral loopback port. */
export async function startEtcdRegistry(
  t: { after(fn: () => Promise<void> | void): void },
  etcdUrl: string,
  prefix: string,
  extraArgs: string[] = [],
): Promise<TestRegistry> {
  const dir = tempDir('mesh-registry-etcd-');
  t.after(dir.cleanup);
  const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', etcdUrl, '--etcd-prefix', prefix, ...extraArgs]);
  t.after(async () => { await daemon.stop('SIGKILL'); });
  const m = await daemon.waitFor(/listening on (http:\/\/[\d.:]+)/);
  const url = m[1]!;
  const client = new RegistryClient({ url, timeoutMs: 5_000 });
  t.after(() => client.close());
  return { url, dataDir: dir.path, daemon, client, stop: () => daemon.stop('SIGTERM') };
}
