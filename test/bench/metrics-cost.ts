// The cost of observability (issue 5's benchmark), in one run:
//   1. in-process: nanoseconds per request for the metrics' hot path and per access-log line;
//   2. end to end: the same autocannon load through a real `mesh proxy start` with metrics off
//      (--no-metrics), on (the default) and on plus --access-log, reported as ratios to metrics off.
// `runMetricsCostBench()` is what `npm run bench:proxy` calls after its own sections; run this file alone with
// `npm run build && node dist/test/bench/metrics-cost.js`. Not a test: it prints numbers, asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessLog } from '../../src/metrics/access-log.js';
import { ProxyMetrics } from '../../src/metrics/recorder.js';
import { continueTrace, ensureRequestId } from '../../src/metrics/trace.js';
import { Fate } from '../../src/metrics/types.js';
import { freePort, runMesh, startMesh, REPO_ROOT, type Daemon } from '../helpers/mesh.js';

const BACKEND_JS = fileURLToPath(new URL('../helpers/backend-child.js', import.meta.url));
const AUTOCANNON = join(REPO_ROOT, 'node_modules', 'autocannon', 'autocannon.js');

function hotPathNs(): { metricsNs: number; traceNs: number } {
  const m = new ProxyMetrics();
  const svc = m.service('orders');
  const ep = svc.endpoint('orders-1', '127.0.0.1:9001');
  const n = 2_000_000;
  const run = () => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      svc.requestStarted(); ep.requestStarted();
      ep.requestEnded(200, (i % 100) / 10 + 0.3); ep.bodyBytes(480, 120);
      svc.requestEnded(Fate.ok, 200, (i % 100) / 10 + 0.4);
      if (i % 50_000 === 0) m.tick();
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  run(); // warm-up
  const metricsNs = run();
  const t = performance.now();
  for (let i = 0; i < 200_000; i++) { continueTrace(undefined); ensureRequestId(undefined); }
  return { metricsNs, traceNs: ((performance.now() - t) * 1e6) / 200_000 };
}

async function accessLogNs(dir: string): Promise<number> {
  const log = await AccessLog.open(join(dir, 'bench-access.log'), { maxBufferBytes: 64 * 1024 * 1024 });
  const n = 200_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    log.record({ method: 'GET', authority: 'orders', path: '/api/items?page=2', status: 200, error: null, durationMs: 1.234, upstream: '127.0.0.1:9001', bytesIn: 0, bytesOut: 512, requestId: 'c0ffee00-0000-4000-8000-000000000000', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r)); // let the writer run, as the event loop would
  }
  const ns = ((performance.now() - t) * 1e6) / n;
  await log.close();
  return ns;
}

interface Load { rps: number; p50: number; p99: number }

function autocannon(port: number, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const args = [AUTOCANNON, '-c', '50', '-d', String(seconds), '-j', '-H', 'host=orders', `http://127.0.0.1:${port}/`];
    const pin = spawnSync('which', ['taskset']).status === 0 ? ['taskset', '-c', '1'] : [];
    const child = spawn(pin[0] ?? process.execPath, pin.length ? [...pin.slice(1), process.execPath, ...args] : args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('close', () => {
      try {
        const r = JSON.parse(out) as { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number };
        resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 });
      } catch (err) { reject(new Error(`autocannon gave no JSON: ${(err as Error).message}`)); }
    });
  });
}

async function proxyRun(registry: string, extra: string[], seconds: number): Promise<Load> {
  const port = await freePort();
  const admin = await freePort();
  const daemon = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--registry', registry, ...extra]);
  try {
    await daemon.waitFor(/listening on/);
    // Pin the proxy (all its threads) to core 0 — autocannon runs on core 1 — so the comparison is per core.
    if (spawnSync('which', ['taskset']).status === 0) spawnSync('taskset', ['-a', '-p', '-c', '0', String(daemon.child.pid)]);
    await autocannon(port, 1); // warm-up: JIT, pools
    return await autocannon(port, seconds);
  } finally {
    await daemon.stop('SIGTERM');
  }
}

export async function runMetricsCostBench(opts: { seconds?: number } = {}): Promise<void> {
  const seconds = opts.seconds ?? 5;
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-'));
  const children: Daemon[] = [];
  try {
    console.log('\n== cost of observability ==');
    const hot = hotPathNs();
    console.log(`metrics hot path: ${hot.metricsNs.toFixed(0)} ns per request (service + endpoint: counters, buckets, 2 HDR records)`);
    console.log(`trace context + request id: ${hot.traceNs.toFixed(0)} ns per request`);
    console.log(`access log: ${(await accessLogNs(dir)).toFixed(0)} ns per line (JSON built, batched, written asynchronously)`);

    const registry = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'registry')]);
    children.push(registry);
    const url = (await registry.waitFor(/listening on (http:\/\/[\d.:]+)/))[1]!;
    const backend = spawn(process.execPath, [BACKEND_JS, 'orders-1', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const backendPort = await new Promise<number>((resolve) => {
      let out = '';
      backend.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    });
    try {
      const reg = await runMesh(['register', 'orders', '--address', `127.0.0.1:${backendPort}`, '--id', 'orders-1', '--registry', url]);
      if (reg.code !== 0) throw new Error(reg.stderr);
      const help = await runMesh(['proxy', 'start', '--help']);
      const hasAccessLog = help.stdout.includes('--access-log');
      // Interleaved rounds, best of each: other work on the machine hits every configuration alike.
      const best = (a: Load | undefined, b: Load) => (a === undefined || b.rps > a.rps ? b : a);
      let off: Load | undefined;
      let on: Load | undefined;
      let logged: Load | undefined;
      for (let round = 0; round < 3; round++) {
        off = best(off, await proxyRun(url, ['--no-metrics'], seconds));
        on = best(on, await proxyRun(url, [], seconds));
        if (hasAccessLog) logged = best(logged, await proxyRun(url, ['--access-log', join(dir, 'access.log')], seconds));
      }
      if (!off || !on) throw new Error('no load results');
      const base = off;
      const row = (name: string, r: Load) => `${name.padEnd(26)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  ${(r.rps / base.rps).toFixed(3)}× of metrics off`;
      console.log(`\nthrough mesh proxy (1 worker, 50 connections, ${seconds}s each, best of 3 interleaved rounds):`);
      console.log(row('metrics off (--no-metrics)', off));
      console.log(row('metrics on (default)', on));
      console.log(logged ? row('metrics + --access-log', logged) : 'metrics + access log: skipped (this proxy has no --access-log flag)');
      console.log(`metrics cost: ${((1 - on.rps / base.rps) * 100).toFixed(1)}% of throughput (aim ≤ 5%; run-to-run noise on a shared machine is a few %)`);
    } finally {
      backend.kill('SIGKILL');
    }
  } finally {
    for (const c of children) await c.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runMetricsCostBench({ seconds: Number(process.env.BENCH_SECONDS ?? 5) });
}
