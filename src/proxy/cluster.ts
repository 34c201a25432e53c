// Running the proxy: one process, or `--workers N` processes under node:cluster sharing one listener.
// The kernel spreads connections across workers (SCHED_NONE: no hand-off through the primary, which would
// cost a round trip per connection). Each worker keeps its own route table from its own registry watch.
// The admin server (/routes, /metrics, /stats, /ready) runs in worker 1 only, so what it reports is worker 1's
// view: the tables are the same (same registry), the counters are that worker's share of the traffic.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { untilSignal } from '../core/signals.js';
import type { MetricsState } from '../metrics/peers.js';
import { MeshError } from '../core/errors.js';
import type { ProxyOptions } from './proxy.js';

export interface RunProxyOptions extends ProxyOptions {
  workers: number;
}

const WORKER_ENV = 'MESH_PROXY_WORKER';
/** The environment variable that carries a worker's options (JSON) from the primary to worker-main.ts. */
export const WORKER_OPTIONS_ENV = 'MESH_PROXY_WORKER_OPTIONS';

export async function runProxy(opts: RunProxyOptions): Promise<void> {
  if (cluster.isWorker) return runWorker(opts);
  if (opts.workers <= 1) return runSingle(opts);
  return runPrimary(opts);
}

// The proxy's modules load in the processes that serve traffic, not in a `--workers N` primary, which only
// forks, restarts and signals its workers.
async function runSingle(opts: RunProxyOptions): Promise<void> {
  const { startProxy } = await import('./proxy.js');
  const proxy = await startProxy(opts);
  opts.log(`mesh proxy: listening on ${proxy.listen} (admin ${proxy.admin ?? 'off'}, registry ${opts.registry.url}, 1 worker, pid ${process.pid})`);
  const signal = await untilSignal({ onHangup: () => { opts.log('mesh proxy: SIGHUP, reloading config'); void proxy.reload(); } });
  opts.log(`mesh proxy: ${signal}, draining in-flight requests (deadline ${opts.drainTimeoutMs} ms)`);
  await proxy.stop();
  opts.log('mesh proxy: stopped');
}

async function runWorker(opts: RunProxyOptions): Promise<void> {
  const index = Number(process.env[WORKER_ENV] ?? '1');
  const tag = `mesh proxy[worker ${index}]`;
  const log = (line: string) => opts.log(line.startsWith('mesh proxy') ? line.replace('mesh proxy', tag) : `${tag}: ${line}`);
  const [{ startProxy }, { ProxyMetrics }] = await Promise.all([import('./proxy.js'), import('../metrics/recorder.js')]);
  const proxy = await startProxy({ ...opts, admin: index === 1 ? opts.admin : undefined, log });
  process.send?.({ type: 'listening', listen: proxy.listen, admin: proxy.admin });
  // Worker 1 serves /metrics and /stats for all: the others send it their numbers once a second (via the primary).
  const metrics = proxy.metrics instanceof ProxyMetrics ? proxy.metrics : undefined;
  let ship: NodeJS.Timeout | undefined;
  const onPeer = (m: { type?: string; state?: MetricsState }) => { if (m?.type === 'metrics' && m.state) metrics?.setPeerState(m.state); };
  if (metrics !== undefined && index === 1) process.on('message', onPeer);
  if (metrics !== undefined && index !== 1) {
    ship = setInterval(() => { process.send?.({ type: 'metrics', state: metrics.exportState(index) }); }, 1000);
    ship.unref();
  }
  await untilSignal({ onHangup: () => { void proxy.reload(); } });
  if (ship !== undefined) clearInterval(ship);
  process.off('message', onPeer);
  await proxy.stop();
  cluster.worker?.disconnect();
}

async function runPrimary(opts: RunProxyOptions): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  // Workers start from worker-main.js, not the CLI: they load the proxy's modules only. They run with the
  // primary's V8 flags (execArgv) and environment (NODE_OPTIONS), nothing added: one process (--workers 1) and
  // N workers get the same heap, because a one-worker proxy runs in the `mesh` process, whose flags mesh cannot
  // choose. Capping the young generation (NODE_OPTIONS=--max-semi-space-size=N) trades RSS under load for
  // GC CPU the same way for both (README, "Memory and workers").
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), args: [], execArgv: process.execArgv });
  const { log: _log, outboundTls: _tls, extraMetrics: _extra, ...serializable } = opts;
  const optionsJson = JSON.stringify(serializable);
  let stopping = false;
  const byIndex = new Map<number, Worker>();
  const fork = (index: number, restart = false) => {
    const worker = cluster.fork({ [WORKER_ENV]: String(index), [WORKER_OPTIONS_ENV]: optionsJson });
    byIndex.set(index, worker);
    // Said once a replacement accepts connections: until then the shared listening socket lives only in the other
    // workers (with SCHED_NONE the socket closes when no live worker holds it).
    if (restart) worker.once('message', (m: { type?: string }) => { if (m?.type === 'listening') opts.log(`mesh proxy: worker ${index} (pid ${worker.process.pid}) is listening again`); });
    // Metrics from workers 2..N go to worker 1, which serves /metrics and /stats.
    worker.on('message', (m: { type?: string }) => { if (m?.type === 'metrics') { const w1 = byIndex.get(1); if (w1?.isConnected()) w1.send(m); } });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      opts.log(`mesh proxy: worker ${index} (pid ${worker.process.pid}) exited (${signal ?? code}); starting a new one`);
      // A SIGTERM inside this half second must not start a worker that nobody will stop.
      setTimeout(() => { if (!stopping) fork(index, true); }, 500).unref();
    });
    return worker;
  };
  const ready = Array.from({ length: opts.workers }, (_, i) => {
    const worker = fork(i + 1);
    return new Promise<{ listen: string; admin?: string }>((resolve, reject) => {
      worker.once('message', (m: { type?: string; listen: string; admin?: string }) => { if (m?.type === 'listening') resolve(m); });
      worker.once('exit', (code) => reject(new MeshError('MESH_ERR_LISTEN', `proxy worker ${i + 1} exited (code ${code}) before it was listening`)));
    });
  });
  let first: { listen: string; admin?: string };
  try {
    [first] = await Promise.all(ready) as [{ listen: string; admin?: string }];
  } catch (err) {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    throw err;
  }
  opts.log(`mesh proxy: listening on ${first.listen} (admin ${first.admin ?? 'off'} in worker 1, registry ${opts.registry.url}, ${opts.workers} workers, pid ${process.pid})`);
  const signal = await untilSignal({
    onHangup: () => {
      opts.log('mesh proxy: SIGHUP, reloading config in every worker');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    },
  });
  stopping = true;
  opts.log(`mesh proxy: ${signal}, draining in-flight requests in ${opts.workers} workers (deadline ${opts.drainTimeoutMs} ms)`);
  const exits = Object.values(cluster.workers ?? {}).map((w) => new Promise<void>((r) => {
    if (w === undefined || w.isDead()) return r();
    w.once('exit', () => r());
    w.process.kill('SIGTERM');
  }));
  await Promise.all(exits);
  opts.log('mesh proxy: stopped');
}
