// The registry daemon: opens the store, starts health checking and the API server, and shuts all of it down in
// order on SIGTERM/SIGINT. One stderr line per lifecycle event; nothing per request.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { systemClock, type Clock } from '../core/clock.js';
import { parseListenAddress, formatHostPort } from '../core/validate.js';
import { DnsCounters } from './dns/counters.js';
import type { DnsServer, DnsSettings } from './dns/server.js';
import type { ServicesDir } from './definitions/services-dir.js';
import { EmbeddedStore } from './store/embedded/embedded-store.js';
import { HealthMonitor } from './catalogue/health.js';
import { RegistryServer } from './api/server.js';
import type { RegistryStore, StoreStatus } from './store/store.js';
import { WatchHub } from './catalogue/watch-hub.js';
import type { IdentityConfig, RunningAuthority } from './identity/authority.js';

export interface StoreFactoryOptions {
  dataDir: string;
  clock: Clock;
  log: (line: string) => void;
}

/** Builds the store the daemon runs on; the embedded store by default, etcd when the user asks for it. */
export type StoreFactory = (opts: StoreFactoryOptions) => RegistryStore;

export const embeddedStoreFactory: StoreFactory = (opts) => new EmbeddedStore(opts);

export interface RegistryDaemonOptions {
  /** host:port to listen on (port 0 picks a free one). */
  listen: string;
  /** Called once the daemon serves (runRegistryDaemon): the store is open and the API listens. */
  onStarted?: () => void;
  dataDir: string;
  storeFactory?: StoreFactory;
  /** Receives one line per lifecycle event (without a trailing newline). */
  log?: (line: string) => void;
  clock?: Clock;
  /** Refuses mutating API calls (token, policy); throws a MeshError. */
  authorize?: (req: IncomingMessage) => void;
  /** Whether the store runs its own health checks (etcd elects a checker); default: the daemon runs them. */
  healthChecks?: boolean;
  /** PEM certificate and key: serve the API over HTTPS. */
  tls?: { cert: string; key: string };
  /** Issue workload certificates from this issuer (`registry start --issuer`). */
  identity?: IdentityConfig;
  /** Also answer DNS queries from the catalogue (dns/server.ts). */
  dns?: DnsSettings;
  /** Register the instances defined by the files in this directory (definitions/). */
  servicesDir?: string;
}

export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

export class RegistryDaemon {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly url: string,
    private readonly store: RegistryStore,
    private readonly hub: WatchHub,
    private readonly health: HealthMonitor | undefined,
    private readonly server: RegistryServer,
    private readonly log: (line: string) => void,
    private readonly authority: RunningAuthority | undefined,
    private readonly dns: DnsServer | undefined,
    private readonly definitions: ServicesDir | undefined,
  ) {}

  /** Reloads the --services-dir files (SIGHUP); resolves when the store is in line with them. */
  async reloadDefinitions(): Promise<void> {
    await this.definitions?.reload();
  }

  /** Opens the store, then starts health checks and the API. On any failure, undoes what was started and rethrows. */
  static async start(opts: RegistryDaemonOptions): Promise<RegistryDaemon> {
    const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
    const clock = opts.clock ?? systemClock;
    const { host, port } = parseListen(opts.listen);
    // Until the daemon is up, the store's lines are held back: a start that fails prints one line, its error.
    let held: string[] | undefined = [];
    const storeLog = (line: string) => { if (held) held.push(line); else log(`mesh registry: ${line}`); };
    // The identity code (and @peculiar/x509 under it) loads only for a daemon that issues certificates.
    const identity = opts.identity === undefined ? undefined : await import('./identity/authority.js');
    if (identity !== undefined) identity.checkIssuer(opts.identity!, clock); // a bad issuer fails before the store is locked
    const store = (opts.storeFactory ?? embeddedStoreFactory)({ dataDir: opts.dataDir, clock, log: storeLog });
    const t0 = performance.now();
    await store.open();
    const replayMs = performance.now() - t0;
    let authority: RunningAuthority | undefined;
    try {
      authority = identity === undefined ? undefined : await identity.startAuthority(opts.identity!, store.tokens, clock, storeLog);
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
    const hub = new WatchHub(store);
    const dnsCounters = opts.dns ? new DnsCounters() : undefined;
    const server = new RegistryServer({
      store, hub, version: VERSION, clock, log: storeLog, ...(opts.authorize ? { authorize: opts.authorize } : {}), ...(opts.tls ? { tls: opts.tls } : {}),
      ...(authority ? { identity: authority.service } : {}), ...(dnsCounters ? { dnsCounters } : {}),
    });
    let health: HealthMonitor | undefined;
    let dns: DnsServer | undefined;
    let definitions: ServicesDir | undefined;
    try {
      const addr = await server.listen(host, port);
      if (opts.healthChecks !== false) {
        health = new HealthMonitor({ store, clock, log: storeLog, ...store.healthPolicy?.() });
        health.start();
      }
      if (opts.servicesDir !== undefined) {
        const { ServicesDir } = await import('./definitions/services-dir.js');
        definitions = await ServicesDir.open({ dir: opts.servicesDir, store, log: storeLog });
      }
      if (opts.dns) {
        // Loaded on demand: a daemon without --dns does not load the DNS code or its packet library.
        const { DnsServer } = await import('./dns/server.js');
        dns = await DnsServer.start({ ...opts.dns, hub, counters: dnsCounters! });
        server.setDnsAddress(formatHostPort(dns.address.host, dns.address.port), opts.dns.domain);
      }
      const url = `${opts.tls ? 'https' : 'http'}://${formatHostPort(addr.address, addr.port)}`;
      const count = store.list().length;
      for (const line of held) log(`mesh registry: ${line}`);
      held = undefined;
      log(`mesh registry: listening on ${url} (${describeStore(store.status())}, ${count} instance${count === 1 ? '' : 's'} replayed in ${Math.round(replayMs)} ms)`);
      if (dns) log(`mesh registry: DNS on ${formatHostPort(dns.address.host, dns.address.port)} (udp+tcp, domain ${opts.dns!.domain}.${opts.dns!.recursor ? `, forwarding other names to ${formatHostPort(opts.dns!.recursor.host, opts.dns!.recursor.port)}` : ''})`);
      return new RegistryDaemon(url, store, hub, health, server, log, authority, dns, definitions);
    } catch (err) {
      await definitions?.close();
      await dns?.close();
      await health?.stop();
      authority?.close();
      hub.close();
      await server.close(0).catch(() => {});
      await store.close().catch(() => {});
      throw err;
    }
  }

  /** Stops accepting, ends watch streams, drains in-flight calls, stops checks, closes the store. Idempotent. */
  stop(drainMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      const t0 = performance.now();
      this.log('mesh registry: shutting down (draining in-flight requests, closing watch streams)');
      await this.definitions?.close();
      await this.dns?.close();
      this.hub.close();
      this.authority?.close();
      await this.server.close(drainMs);
      await this.health?.stop();
      await this.store.close();
      this.log(`mesh registry: stopped after ${Math.round(performance.now() - t0)} ms (store closed cleanly)`);
    })();
    return this.stopping;
  }
}

/** Runs the daemon in the foreground until SIGTERM or SIGINT, then shuts it down; resolves when it has. */
export async function runRegistryDaemon(opts: RegistryDaemonOptions): Promise<void> {
  const daemon = await RegistryDaemon.start(opts);
  opts.onStarted?.();
  const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  let stopping = false;
  // Handlers stay installed through the drain: a second SIGTERM (an impatient supervisor, a double Ctrl-C) must
  // not kill the daemon mid-drain with the default signal exit and a stale LOCK; the drain has its own deadline.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) { log(`mesh registry: received ${signal} again; already shutting down`); return; }
    stopping = true;
    log(`mesh registry: received ${signal}`);
    wake();
  };
  let wake: () => void = () => {};
  const signalled = new Promise<void>((resolve) => { wake = resolve; });
  // SIGHUP reloads the services dir; without one it keeps its default meaning (terminate).
  const onHangup = () => {
    log('mesh registry: received SIGHUP, reloading the services dir');
    void daemon.reloadDefinitions();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (opts.servicesDir !== undefined) process.on('SIGHUP', onHangup);
  try {
    await signalled;
    await daemon.stop();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
  }
}

function parseListen(listen: string): { host: string; port: number } {
  return parseListenAddress(listen, 'listen');
}

function describeStore(status: StoreStatus): string {
  const d = status.details;
  if (typeof d.dataDir === 'string') return `data dir ${d.dataDir}`;
  if (typeof d.endpoints === 'string') return `${status.kind} ${d.endpoints}`;
  return `${status.kind} store`;
}
