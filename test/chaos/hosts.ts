// The chaos run's "hosts": each a loopback address (127.0.1.1, 127.0.2.1, …) with what one machine of a mesh
// runs — a registry daemon on the shared etcd cluster (locked with the admin token, signing certificates with
// its own issuer under the run's root), a proxy that follows it, and two instances of service `api` (real
// backend processes) kept registered with a TTL by `mesh register --keep-alive`. The proxy has a registry-issued
// identity (`--identity registry`, bought with a bootstrap token, renewed every CERT_TTL/2 or so) and is also
// the mTLS sidecar of the host's first instance, which registers its TLS port: every request to an `api-hN-1`
// crosses mTLS, so a certificate that lapses shows up as failed requests. Every process is real, so a host can
// be frozen (SIGSTOP) or its daemon killed and restarted on the same address and port.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../../src/registry/client.js';
import { eventually, freePort, startMesh, type Daemon } from '../helpers/mesh.js';

const BACKEND_JS = join(fileURLToPath(new URL('../helpers/', import.meta.url)), 'backend-child.js');

/** TTL of the instances, and how long an expired one stays (critical) before it is removed. */
export const INSTANCE_TTL = '3s';
export const DEREGISTER_AFTER = '60s';
/** The lifetime of the proxies' certificates: short, so that renewals happen during the faults. */
export const CERT_TTL_MS = 30_000;

export interface HostOptions {
  etcdEndpoints: string[];
  prefix: string;
  /** The registry API's admin token (MESH_TOKEN of every daemon and of the keep-alive registrations). */
  adminToken: string;
  /** This host's daemon's issuer directory (`mesh certs ca issuer`). */
  issuerDir: string;
}

export interface Host {
  n: number;
  ip: string;
  registryUrl: string;
  proxyUrl: { host: string; port: number };
  adminUrl: string;
  daemon: Daemon;
  proxy: Daemon;
  /** A client on this host's daemon with the admin token (short timeout: a frozen daemon must not stall the run). */
  client: RegistryClient;
  instanceIds: string[];
  /** Starts (or restarts, same address and port) this host's registry daemon. */
  startDaemon(): Promise<void>;
  /** What this host's registry daemons (every incarnation) have logged. */
  daemonLog(): string;
  /** What every process of the host logged, by file name (kept when the run fails). */
  logs(): Record<string, string>;
  /** Every process of the host, for SIGSTOP/SIGCONT of the whole machine. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startHost(n: number, opts: HostOptions): Promise<Host> {
  const ip = `127.0.${n}.1`;
  const registryPort = await freePort(ip);
  const proxyPort = await freePort(ip);
  const adminPort = await freePort(ip);
  const inboundPort = await freePort(ip);
  const env = { MESH_TOKEN: opts.adminToken };
  const registryUrl = `http://${ip}:${registryPort}`;
  const backends: ChildProcess[] = [];
  const keepers: Daemon[] = [];
  const pastDaemons: Daemon[] = [];
  // Every process's output, each line stamped with when it arrived (the processes do not stamp their lines).
  const timed = new Map<string, string[]>();
  const stamp = (name: string, d: Daemon): Daemon => {
    const lines = timed.get(name) ?? [];
    timed.set(name, lines);
    for (const stream of [d.child.stdout!, d.child.stderr!]) {
      stream.on('data', (chunk: string | Buffer) => { for (const line of String(chunk).split(/(?<=\n)/)) lines.push(`${new Date().toISOString()} ${line}`); });
    }
    return d;
  };
  const host: Host = {
    n, ip, registryUrl,
    proxyUrl: { host: ip, port: proxyPort },
    adminUrl: `http://${ip}:${adminPort}`,
    daemon: undefined as unknown as Daemon,
    proxy: undefined as unknown as Daemon,
    client: new RegistryClient({ url: registryUrl, timeoutMs: 2_000, token: opts.adminToken }),
    instanceIds: [`api-h${n}-1`, `api-h${n}-2`],
    async startDaemon() {
      if (host.daemon) pastDaemons.push(host.daemon);
      host.daemon = startMesh(['registry', 'start', '--listen', `${ip}:${registryPort}`, '--store', 'etcd',
        '--etcd-endpoints', opts.etcdEndpoints.join(','), '--etcd-prefix', opts.prefix,
        '--issuer', opts.issuerDir, '--cert-ttl', `${CERT_TTL_MS / 1000}s`], { env });
      stamp(`h${n}-registry.log`, host.daemon);
      await host.daemon.waitFor(/listening on/, 30_000);
    },
    daemonLog: () => [...pastDaemons, host.daemon].map((d) => d.stderr()).join(''),
    logs: () => Object.fromEntries([...timed].map(([name, lines]) => [name, lines.join('')])),
    pids: () => [host.daemon, host.proxy, ...keepers].map((d) => d.child.pid!).concat(backends.map((b) => b.pid!)),
    async stop() {
      await Promise.all(keepers.map((k) => k.stop('SIGTERM')));
      await host.proxy.stop('SIGTERM');
      await host.daemon.stop('SIGTERM');
      for (const b of backends) b.kill('SIGKILL');
      await host.client.close();
    },
  };
  try {
    await startParts();
  } catch (err) {
    // Nothing of a host that failed to start may outlive the run.
    await Promise.all([...keepers, host.proxy, host.daemon].filter((d) => d !== undefined).map((d) => d.stop('SIGKILL')));
    for (const b of backends) b.kill('SIGKILL');
    await host.client.close();
    throw err;
  }
  return host;

  // The daemon, the backends, the proxy (identity bought with a bootstrap token) and the keep-alive registrations.
  async function startParts(): Promise<void> {
    await host.startDaemon();
    const appPorts: number[] = [];
    for (const id of host.instanceIds) {
      const child = spawn(process.execPath, [BACKEND_JS, id, '0', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
      backends.push(child);
      appPorts.push(await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
        child.once('exit', (code) => reject(new Error(`backend ${id} exited (${code})`)));
      }));
    }
    // The bootstrap token of the host's proxy: unlimited uses, so a proxy whose certificate lapsed (a frozen
    // host) can buy a new one with it, as `--identity registry` does after an expiry.
    const { token } = await host.client.createToken({ service: 'api', ttlMs: 3_600_000 });
    host.proxy = stamp(`h${n}-proxy.log`, startMesh(['proxy', 'start', '--listen', `${ip}:${proxyPort}`, '--admin', `${ip}:${adminPort}`, '--registry', registryUrl,
      '--identity', 'registry', '--service', 'api', '--inbound', `${ip}:${inboundPort}`, '--app', `${ip}:${appPorts[0]}`], { env: { MESH_IDENTITY_TOKEN: token } }));
    await host.proxy.waitFor(/mesh proxy: outbound /, 30_000);
    // One after the other, as separate machines' processes would start: keep-alives started in the same instant
    // heartbeat in lockstep, which is not what the run means to measure.
    for (const [i, id] of host.instanceIds.entries()) {
      const keeper = stamp(`h${n}-keep-alive-${id}.log`, startMesh(['register', 'api', '--address', `${ip}:${appPorts[i]}`, '--id', id, '--ttl', INSTANCE_TTL,
        '--deregister-after', DEREGISTER_AFTER, '--zone', `host-${n}`, ...(i === 0 ? ['--tls-port', String(inboundPort)] : []),
        '--keep-alive', '--registry', registryUrl], { env }));
      keepers.push(keeper);
      await keeper.waitFor(/heartbeating every/, 30_000);
    }
    await eventually(async () => {
      const { instances } = await host.client.service('api');
      return host.instanceIds.every((id) => instances.some((i) => i.id === id && i.health === 'passing'));
    }, 20_000, 100);
  }
}
