// A real etcd for tests and benchmarks: one member on loopback ephemeral ports with a temporary data dir.
// It can be stopped and started again on the same dir and ports, which is how the outage tests work.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
  /** The running process's pid (for CPU and memory readings). */
  readonly pid: number;
}

/** Files for an etcd that speaks TLS and asks clients for certificates (see etcdCertificates). */
export interface EtcdTls { caFile: string; certFile: string; keyFile: string; clientCertFile: string; clientKeyFile: string }

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir` (EC P-256,
 * SHA-256), as an operator would make them for etcd's --trusted-ca-file / --cert-file / --client-cert-auth.
 */
export function etcdCertificates(dir: string): EtcdTls {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '2',
    '-subj', '/CN=mesh test etcd CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-sha256', '-days', '2',
      '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  leaf('client', 'mesh-registry', 'extendedKeyUsage=clientAuth\n');
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key'), clientCertFile: f('client.pem'), clientKeyFile: f('client.key') };
}

/** Starts a one-member etcd (with TLS and client certificates when `tls` is given) once /health answers true. */
export async function startEtcd(opts: { ready?: number; tls?: EtcdTls } = {}): Promise<EtcdProcess> {
  const bin = findEtcd();
  if (bin === undefined) throw new Error(String(ETCD_SKIP));
  const dir = tempDir('mesh-etcd-');
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 't', '--data-dir', join(dir.path, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `t=${peer}`, '--log-level', 'warn', '--logger', 'zap',
    ...(opts.tls ? ['--cert-file', opts.tls.certFile, '--key-file', opts.tls.keyFile, '--trusted-ca-file', opts.tls.caFile, '--client-cert-auth'] : []),
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
      if (await healthy(url, opts.tls)) return;
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
    get pid() { return child?.pid ?? 0; },
  };
}

function healthy(url: string, tls?: EtcdTls): Promise<boolean> {
  const get = tls ? httpsRequest : request;
  const tlsOpts = tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : {};
  return new Promise((resolve) => {
    const req = get(`${url}/health`, { timeout: 1_000, ...tlsOpts }, (res) => {
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
