// The chaos run's "hosts": each a loopback address (127.0.1.1, 127.0.2.1, …) with what one machine of a mesh
// runs — a registry daemon on the shared etcd cluster, a proxy that follows it, and two instances of service
// `api` (real backend processes) kept registered with a TTL by `mesh register --keep-alive`. Every process is
// real, so a host can be frozen (SIGSTOP) or its daemon killed and restarted on the same address and port.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../../src/registry/client.js';
import { eventually, freePort, startMesh, type Daemon } from '../helpers/mesh.js';

const BACKEND_JS = join(fileURLToPath(new URL('../helpers/', import.meta.url)), 'backend-child.js');

/** TTL of the instances, and how long an expired one stays (critical) before it is removed. */
export const INSTANCE_TTL = '3s';
export const DEREGISTER_AFTER = '60s';

export interface Host {
  n: number;
  ip: string;
  registryUrl: string;
  proxyUrl: { host: string; port: number };
  adminUrl: string;
  daemon: Daemon;
  /** A client on this host's daemon (short timeout: a frozen daemon must not stall the run). */
  client: RegistryClient;
  instanceIds: string[];
  /** Starts (or restarts, same address and port) this host's registry daemon. */
  startDaemon(): Promise<void>;
  /** What this host's registry daemons (every incarnation) have logged. */
  daemonLog(): string;
  /** Every process of the host, for SIGSTOP/SIGCONT of the whole machine. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startHost(n: number, etcdEndpoints: string[], prefix: string): Promise<Host> {
  const ip = `127.0.${n}.1`;
  const registryPort = await freePort(ip);
  const proxyPort = await freePort(ip);
  const adminPort = await freePort(ip);
  const registryUrl = `http://${ip}:${registryPort}`;
  const backends: ChildProcess[] = [];
  const keepers: Daemon[] = [];
  const pastDaemons: Daemon[] = [];
  const host: Host = {
    n, ip, registryUrl,
    proxyUrl: { host: ip, port: proxyPort },
    adminUrl: `http://${ip}:${adminPort}`,
    daemon: undefined as unknown as Daemon,
    client: new RegistryClient({ url: registryUrl, timeoutMs: 2_000 }),
    instanceIds: [`api-h${n}-1`, `api-h${n}-2`],
    async startDaemon() {
      if (host.daemon) pastDaemons.push(host.daemon);
      host.daemon = startMesh(['registry', 'start', '--listen', `${ip}:${registryPort}`, '--store', 'etcd',
        '--etcd-endpoints', etcdEndpoints.join(','), '--etcd-prefix', prefix]);
      await host.daemon.waitFor(/listening on/, 30_000);
    },
    daemonLog: () => [...pastDaemons, host.daemon].map((d) => d.stderr()).join(''),
    pids: () => [host.daemon, proxy, ...keepers].map((d) => d.child.pid!).concat(backends.map((b) => b.pid!)),
    async stop() {
      await Promise.all(keepers.map((k) => k.stop('SIGTERM')));
      await proxy.stop('SIGTERM');
      await host.daemon.stop('SIGTERM');
      for (const b of backends) b.kill('SIGKILL');
      await host.client.close();
    },
  };
  await host.startDaemon();
  const proxy = startMesh(['proxy', 'start', '--listen', `${ip}:${proxyPort}`, '--admin', `${ip}:${adminPort}`, '--registry', registryUrl]);
  await proxy.waitFor(/mesh proxy: listening on/, 30_000);
  for (const id of host.instanceIds) {
    const child = spawn(process.execPath, [BACKEND_JS, id, '0', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
    backends.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
      child.once('exit', (code) => reject(new Error(`backend ${id} exited (${code})`)));
    });
    keepers.push(startMesh(['register', 'api', '--address', `${ip}:${port}`, '--id', id, '--ttl', INSTANCE_TTL,
      '--deregister-after', DEREGISTER_AFTER, '--zone', `host-${n}`, '--keep-alive', '--registry', registryUrl]));
  }
  await eventually(async () => {
    const { instances } = await host.client.service('api');
    return host.instanceIds.every((id) => instances.some((i) => i.id === id && i.health === 'passing'));
  }, 20_000, 100);
  return host;
}
