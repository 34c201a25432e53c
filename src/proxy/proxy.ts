// Wires one proxy process: config (with live reload), registry discovery, the endpoint table, the listener,
// the admin server and metrics; and shuts it down in order on SIGTERM: stop accepting, drain in-flight
// requests up to a deadline, then close everything. `--workers N` runs N of these under cluster.ts.
// What only some proxies use loads only when asked for (the RSS every proxy pays is the issue-13 budget):
// the tracer and its exporter with tracing on, the access log writer with --access-log, the file watcher
// (and yaml, core/yaml.ts) with --config, prom-client on the first GET /metrics or /stats.
import type { Server } from 'node:http';
import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { systemClock, systemRandom } from '../core/clock.js';
import { UsageError } from '../core/errors.js';
import { ProxyMetrics } from '../metrics/recorder.js';
import { NOOP_METRICS, type MeshMetrics } from '../metrics/types.js';
import { RegistryClient } from '../registry/client.js';
import { createAdminServer } from './admin.js';
import { settingSources } from '../config/central.js';
import { loadConfigDocument, type ProxyConfig } from '../config/proxy-config.js';
import type { ProxyDocument } from '../config/central.js';
import { CentralConfigFollower } from './discovery/central-config.js';
import { Discovery } from './discovery/discovery.js';
import { UpstreamPools } from './upstream/pools.js';
import type { OutboundTlsProvider } from './upstream/outbound-tls.js';
import { createProxyServer } from './http1/server.js';
import { ServiceRuntimes } from './attempt/service-runtime.js';
import { listenOn } from './listen.js';
import { lazyMetricsAdmin, type AdminMetrics } from './lazy-metrics-admin.js';
import type { Registry } from 'prom-client';
import type { Tracer } from '../tracing/tracer.js';
import type { TracingSettings } from '../tracing/settings.js';

export interface ProxyOptions {
  listen: string;
  /** Admin listener address, or undefined for none (cluster workers other than the first). */
  admin: string | undefined;
  registry: { url: string; token?: string; caFile?: string };
  configFile: string | undefined;
  drainTimeoutMs: number;
  metrics: boolean;
  log: (line: string) => void;
  /** Where to write one JSON line per request (`-` for stdout); off when undefined. */
  accessLog?: string;
  /** mTLS to endpoints with a mesh TLS port (set when the proxy has a service certificate). */
  outboundTls?: OutboundTlsProvider;
  /** The service this proxy calls as (its certificate's), which faults injected `--from` it match. */
  ownService?: string;
  /** More metrics for GET /metrics (the registry identity's expiry and renewal failures). */
  extraMetrics?: (registry: Registry) => void;
  /** Tracing (--trace-endpoint, --trace-sample, OTEL_*): undefined = off. */
  tracing?: TracingSettings;
  /** A tracer shared with an inbound sidecar in the same process (mesh-run.ts); otherwise made from `tracing`. */
  tracer?: Tracer;
}

export interface RunningProxy {
  listen: string;
  admin: string | undefined;
  /** The metrics this process records (cluster.ts ships them to the admin worker). */
  metrics: MeshMetrics;
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** The --config file at start: a file that cannot be used is a usage error (exit 2) naming the flag. */
export async function loadConfigFlag(file: string): Promise<ProxyConfig> {
  return (await loadConfigDocumentFlag(file)).config;
}

async function loadConfigDocumentFlag(file: string): Promise<{ doc: Record<string, unknown>; config: ProxyConfig }> {
  try {
    return await loadConfigDocument(file);
  } catch (err) {
    throw new UsageError(`--config: ${(err as Error).message}`);
  }
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const log = opts.log;
  // The config in force: the registry's central config with the local --config file laid over it, field by
  // field (central-config.ts); until the registry answers, the file alone (or the built-in defaults).
  let fileDoc: ProxyDocument | undefined = opts.configFile === undefined ? undefined : (await loadConfigDocumentFlag(opts.configFile)).doc as ProxyDocument;
  const client = new RegistryClient({ url: opts.registry.url, token: opts.registry.token, caFile: opts.registry.caFile });
  const fileSource = () => (opts.configFile === undefined || fileDoc === undefined ? undefined : { path: opts.configFile, doc: fileDoc });
  const central = new CentralConfigFollower(client, fileSource, (effective) => { config = effective.config; faults = effective.faults; runtimes.reconfigure(); }, log);
  let config: ProxyConfig = central.current.config;
  let faults = central.current.faults;
  const accessLog = opts.accessLog === undefined ? undefined
    : await (await import('../metrics/access-log.js')).AccessLog.open(opts.accessLog, { onError: (err) => log(`access log ${opts.accessLog} failed, no more lines will be written: ${err.message}`) });
  const tracer = opts.tracer ?? (opts.tracing === undefined ? undefined : new (await import('../tracing/tracer.js')).Tracer(opts.tracing, log));
  const metrics: MeshMetrics = opts.metrics ? new ProxyMetrics() : NOOP_METRICS;
  metrics.start();
  const pools = new UpstreamPools(config.defaults.connectTimeoutMs);
  if (opts.outboundTls !== undefined) pools.setTls(opts.outboundTls);
  const runtimes = new ServiceRuntimes({ clock: systemClock, random: systemRandom, metrics, pools, config: () => config, log });
  metrics.setStateProbe((service, id) => {
    const e = runtimes.table.service(service)?.endpoint(id);
    if (e === undefined) return undefined;
    const ejectedUntil = e.ejectedUntil === 0 ? undefined : systemClock.now() + (e.ejectedUntil - systemClock.monotonic());
    return { ewmaMs: e.ewmaMs, ...(ejectedUntil === undefined ? {} : { ejectedUntil }) };
  });

  const discovery = new Discovery(client, (e) => runtimes.apply(e), log, () => runtimes.table.serviceNames().length);
  discovery.start();
  central.start();
  const [tableReady, configReady] = await Promise.all([discovery.ready(5_000), central.ready(5_000)]);
  if (!tableReady) log(`no route table from ${client.url} yet; answering 503 until it arrives`);
  if (!configReady) log(`no central config from ${client.url} yet; running on ${opts.configFile ?? 'the built-in defaults'} until it arrives`);

  let draining = false;
  const tunnels = new Set<Socket>();
  const h2Sessions = new Set<ServerHttp2Session>();
  const server = createProxyServer({ directory: runtimes, pools, config: () => config, random: systemRandom, draining: () => draining, tunnels, h2Sessions, accessLog, faults: () => faults, ownService: opts.ownService, tracer });
  const listenAddr = await listenOn(server, opts.listen, '--listen');

  let admin: Server | undefined;
  let metricsAdmin: AdminMetrics | undefined;
  let adminAddr: string | undefined;
  if (opts.admin !== undefined) {
    metricsAdmin = lazyMetricsAdmin(async () => (await import('../metrics/admin-routes.js')).createMetricsAdmin(metrics, {
      ...(accessLog === undefined ? {} : { accessLog }), ...(tracer === undefined ? {} : { tracing: tracer }),
      ...(opts.extraMetrics === undefined ? {} : { extraMetrics: opts.extraMetrics }),
      ...(opts.outboundTls?.identity === undefined ? {} : { identity: () => opts.outboundTls!.identity!() }),
    }));
    admin = createAdminServer({
      routes: () => {
        const s = discovery.status();
        const snap = { ...runtimes.snapshot({ url: s.url, connected: s.connected, ...(s.lastError === undefined ? {} : { lastError: s.lastError }) }), config: central.status() };
        const identity = opts.outboundTls?.identity?.();
        return identity === undefined ? snap : { ...snap, identity };
      },
      config: () => config,
      settingSources: (service) => settingSources(central.current, service),
      ready: () => draining ? { ready: false, reason: 'draining' } : discovery.status().synced ? { ready: true } : { ready: false, reason: 'no route table from the registry yet' },
    }, systemClock, metricsAdmin, tracer);
    try {
      adminAddr = await listenOn(admin, opts.admin, '--admin');
    } catch (err) {
      server.close();
      discovery.close();
      central.close();
      throw err;
    }
  }

  const reload = async (why: string): Promise<void> => {
    if (opts.configFile === undefined) return;
    try {
      fileDoc = (await loadConfigDocument(opts.configFile)).doc as ProxyDocument;
      if (central.recompute(`config file ${opts.configFile} (${why})`)) log(`config reloaded from ${opts.configFile} (${why})`);
    } catch (err) {
      log(`config ${opts.configFile} refused, keeping the previous one: ${(err as Error).message}`);
    }
  };
  const unwatch = opts.configFile === undefined ? () => undefined
    : (await import('./discovery/config-watch.js')).watchConfig(opts.configFile, () => { void reload('file changed'); });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      unwatch();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // h2c clients get GOAWAY: their streams in flight finish, new ones go elsewhere.
      for (const s of h2Sessions) s.close();
      // Kept-alive connections that finish a response while draining are idle: close them as they get there.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = new Promise<boolean>((r) => setTimeout(() => r(false), opts.drainTimeoutMs).unref());
      const drained = await Promise.race([closed.then(() => true), deadline]);
      clearInterval(idle);
      if (!drained) {
        log(`drain deadline (${opts.drainTimeoutMs} ms) reached; closing the remaining connections and ${tunnels.size} tunnels`);
        server.closeAllConnections();
        for (const s of tunnels) s.destroy();
        for (const s of h2Sessions) s.destroy();
        await closed;
      }
      discovery.close();
      central.close();
      metricsAdmin?.close();
      metrics.close();
      if (admin !== undefined) {
        admin.closeAllConnections();
        await new Promise<void>((r) => admin!.close(() => r()));
      }
      await pools.close();
      await client.close();
      await accessLog?.close();
      // A shared tracer is closed by its owner (mesh-run.ts).
      if (opts.tracer === undefined) await tracer?.close();
    })();
    return stopping;
  };

  return { listen: listenAddr, admin: adminAddr, metrics, reload: () => reload('SIGHUP'), stop };
}

