// The `mesh registry start` flags that put the registry on etcd, and their validation (usage errors, exit 2,
// before anything connects).
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { EtcdStoreOptions } from '../registry/store/etcd/etcd-store.js';

export interface EtcdFlags {
  store: string;
  etcdEndpoints?: string;
  etcdPrefix?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
}

export function addEtcdOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--store <kind>', 'Where the registry keeps its state: "embedded" (a journal in the data dir, one machine) or "etcd" (shared by every daemon pointed at the same etcd, across machines).').choices(['embedded', 'etcd']).env('MESH_REGISTRY_STORE').default('embedded'))
    .addOption(new Option('--etcd-endpoints <urls>', 'Comma-separated etcd client URLs, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379 (with --store etcd).').env('MESH_ETCD_ENDPOINTS'))
    .addOption(new Option('--etcd-prefix <prefix>', 'The etcd key prefix the registry lives under; daemons with the same prefix share one registry.').env('MESH_ETCD_PREFIX').default('/mesh/v1'))
    .addOption(new Option('--etcd-username <name>', 'User name for etcd authentication (the password comes from --etcd-password or MESH_ETCD_PASSWORD).').env('MESH_ETCD_USERNAME'))
    .addOption(new Option('--etcd-password <password>', 'Password for etcd authentication; prefer the MESH_ETCD_PASSWORD variable, which ps does not show.').env('MESH_ETCD_PASSWORD'))
    .addOption(new Option('--etcd-ca <file>', 'CA certificate (PEM) that signed the etcd servers\' certificates; turns on TLS to etcd.').env('MESH_ETCD_CA'))
    .addOption(new Option('--etcd-cert <file>', 'Client certificate (PEM) for etcd client-certificate authentication (with --etcd-key).').env('MESH_ETCD_CERT'))
    .addOption(new Option('--etcd-key <file>', 'Private key (PEM) of --etcd-cert.').env('MESH_ETCD_KEY'));
}

/** The etcd store's options from the flags, or undefined for the embedded store. Throws UsageError on bad input. */
export function etcdOptionsFromFlags(f: EtcdFlags): Omit<EtcdStoreOptions, 'log' | 'clock'> | undefined {
  const etcdFlags = (['etcdEndpoints', 'etcdUsername', 'etcdPassword', 'etcdCa', 'etcdCert', 'etcdKey'] as const).filter((k) => f[k] !== undefined);
  if (f.store !== 'etcd') {
    if (etcdFlags.length > 0) throw new UsageError(`--${kebab(etcdFlags[0]!)} needs --store etcd`);
    return undefined;
  }
  if (!f.etcdEndpoints) throw new UsageError('--store etcd needs --etcd-endpoints, e.g. --etcd-endpoints http://127.0.0.1:2379');
  const endpoints = f.etcdEndpoints.split(',').map((e) => e.trim()).filter((e) => e !== '').map(parseEndpoint);
  if (endpoints.length === 0) throw new UsageError('--etcd-endpoints: give at least one URL, e.g. http://127.0.0.1:2379');
  const prefix = f.etcdPrefix ?? '/mesh/v1';
  if (!/^\/?[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/.test(prefix)) {
    throw new UsageError(`--etcd-prefix: invalid prefix "${prefix}": use path segments of letters, digits, '.', '_', '-', e.g. /mesh/v1`);
  }
  if ((f.etcdUsername === undefined) !== (f.etcdPassword === undefined)) {
    throw new UsageError(f.etcdUsername === undefined ? '--etcd-password needs --etcd-username' : '--etcd-username needs a password: pass --etcd-password or set MESH_ETCD_PASSWORD');
  }
  if ((f.etcdCert === undefined) !== (f.etcdKey === undefined)) throw new UsageError('pass both --etcd-cert and --etcd-key, or neither');
  if (f.etcdCert !== undefined && f.etcdCa === undefined) throw new UsageError('--etcd-cert needs --etcd-ca (the CA that signed the etcd servers\' certificates)');
  const tls = f.etcdCa === undefined ? undefined : { caFile: f.etcdCa, ...(f.etcdCert ? { certFile: f.etcdCert, keyFile: f.etcdKey! } : {}) };
  if (tls === undefined && endpoints.some((e) => e.startsWith('https:'))) {
    throw new UsageError('--etcd-endpoints uses https: pass --etcd-ca with the CA that signed the etcd servers\' certificates');
  }
  return {
    endpoints,
    prefix,
    ...(f.etcdUsername !== undefined ? { auth: { username: f.etcdUsername, password: f.etcdPassword! } } : {}),
    ...(tls ? { tls } : {}),
  };
}

function parseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--etcd-endpoints: invalid URL "${text}": use http://host:port, e.g. http://127.0.0.1:2379`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new UsageError(`--etcd-endpoints: invalid URL "${text}": use http://host:port or https://host:port`);
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname}:${port}`;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
