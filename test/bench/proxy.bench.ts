// `npm run bench:proxy`: the proxy against its baselines, in one run, on one fast backend.
//   direct        — load straight at the backend
//   mesh 1 worker — through `mesh proxy start` (one worker: one process), pinned to its own core (taskset) when possible
//   mesh 2 workers— through `--workers 2` (both cores: shares them with the load generator and backend)
//   nginx         — through nginx as a reverse proxy with upstream keep-alive, pinned like mesh 1 worker
// For each (median of interleaved rounds after a warm-up): saturated req/s and p50/p99 (wrk when installed, else
// autocannon, each in its own process), p50/p99 at a fixed 1,000 req/s (paced-client.js, open loop), CPU time per
// request of the proxy's serving processes (/proc/<pid>/stat: mesh's process or workers, nginx's workers), RSS
// before any load (idle) and the peak sampled during the runs, and ratios to direct and to nginx. The issue-13
// targets are ratios to nginx computed within each round (the same minute of a shared machine), then the median.
// The backend is nginx serving a fixed body when nginx is installed (so the backend is not the bottleneck), else a
// node:http server. Installs nothing: wrk, nginx and h2load come from the system (README, "Benchmarks"), and a
// missing one is reported and skipped. Not a test: prints numbers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startMesh, REPO_ROOT, type Daemon } from '../helpers/mesh.js';
import { startBenchRegistry } from './bench-registry.js';
import { startBareProxy } from './bare-proxy.js';
import { runH2Bench } from './h2.bench.js';
import { childPids, cpuMicros, median } from './proc-stats.js';
import { printTargets, type RoundFigures } from './proxy-targets.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
// Rounds: every target is measured once per round, rounds interleave the targets (so a noisy minute on a
// shared machine hits all of them, not one), and each figure is the median over the rounds.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? process.env.BENCH_REPEAT ?? 3);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PACED = fileURLToPath(new URL('./paced-client.js', import.meta.url));
const AUTOCANNON = join(REPO_ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? (has('nginx') ? 'nginx' : undefined);
const WRK = has('wrk');
const H2LOAD = has('h2load');
const TASKSET = has('taskset') && cpus().length >= 2;
const LOAD_CPU = '0';
const PROXY_CPU = String(cpus().length - 1);
// MESH_BENCH_TRACING_ONLY=1: only the plain one-worker proxy and the same proxy tracing 100% of requests to a
// sink, loaded at the same time in each round (saturated runs only: no paced runs, no HTTP/2 or metrics
// sections); MESH_BENCH_BIN adds the same pair from another build (an A/B of a tracing change).
const TRACING_ONLY = process.env.MESH_BENCH_TRACING_ONLY === '1';
// MESH_BENCH_PROFILE_DIR=dir: every mesh proxy writes a CPU profile there when it stops (cpu-profile-preload.ts).
const PROFILE_DIR = process.env.MESH_BENCH_PROFILE_DIR;
const profileEnv = (): NodeJS.ProcessEnv => (PROFILE_DIR === undefined ? {}
  : { NODE_OPTIONS: `--import ${new URL('./cpu-profile-preload.js', import.meta.url).href}`, MESH_BENCH_PROFILE_DIR: PROFILE_DIR });
const BASELINE_BIN = process.env.MESH_BENCH_BIN;

interface Row { name: string; rps: number; p50: number; p99: number; pacedP50: number; pacedP99: number; rssIdleMiB: number | null; rssPeakMiB: number | null; cpuUs: number | null }

const children: ChildProcess[] = [];
const daemons: Daemon[] = [];
// nginx's master stops its workers on SIGTERM; SIGKILL would orphan them.
process.on('exit', () => { for (const c of children) c.kill('SIGTERM'); for (const d of daemons) d.child.kill('SIGKILL'); });

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
}

function pinned(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return TASKSET && cpu !== undefined ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

function nginxConf(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.conf`);
  mkdirSync(join(dir, name), { recursive: true });
  // Run as the current user: as root, nginx would otherwise hand its worker to "nobody".
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  writeFileSync(file, `${user}worker_processes 1;\npid ${dir}/${name}/nginx.pid;\nerror_log ${dir}/${name}/error.log;\ndaemon off;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n`
    + `  client_body_temp_path ${dir}/${name}/b; proxy_temp_path ${dir}/${name}/p; fastcgi_temp_path ${dir}/${name}/f; uwsgi_temp_path ${dir}/${name}/u; scgi_temp_path ${dir}/${name}/s;\n`
    + `  keepalive_requests 1000000; keepalive_timeout 65s;\n${body}\n}\n`);
  return file;
}

async function startNginx(conf: string, cpu: string | undefined): Promise<ChildProcess> {
  const [cmd, args] = pinned(cpu, NGINX!, ['-c', conf, '-e', 'stderr']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await new Promise((r) => setTimeout(r, 300));
  return child;
}

async function startNodeBackend(port: number): Promise<ChildProcess> {
  const code = `require('http').createServer((q,r)=>{r.writeHead(200,{'content-type':'text/plain','content-length':2});r.end('ok')}).listen(${port},'127.0.0.1',()=>console.log('up'))`;
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, ['-e', code]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise((r) => child.stdout!.once('data', r));
  return child;
}

/** An OTLP/HTTP collector that reads each export and answers 200, for the tracing rows. */
async function startNodeSink(port: number): Promise<ChildProcess> {
  const code = `require('http').createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(200);r.end()})}).listen(${port},'127.0.0.1',()=>console.log('up'))`;
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, ['-e', code]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise((r) => child.stdout!.once('data', r));
  return child;
}

interface Saturated { rps: number; p50: number; p99: number }

/** Parses wrk's --latency report. */
function parseWrk(out: string): Saturated {
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50: ms(/50%\s+([\d.]+)(us|ms|s)/), p99: ms(/99%\s+([\d.]+)(us|ms|s)/) };
}

/** Runs a load generator to completion, calling onTick every 200 ms meanwhile (to sample RSS under load). */
function runLoad(cmd: string, args: string[], onTick: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const tick = setInterval(onTick, 200);
    child.once('error', (err) => { clearInterval(tick); reject(err); });
    child.once('close', () => { clearInterval(tick); onTick(); resolve(out); });
  });
}

async function saturate(url: string, host: string | undefined, onTick: () => void = () => undefined, seconds = SECONDS): Promise<Saturated> {
  if (WRK) {
    const [cmd, args] = pinned(LOAD_CPU, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url]);
    return parseWrk(await runLoad(cmd, args, onTick));
  }
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, [AUTOCANNON, '-j', '-c', String(CONNECTIONS), '-d', String(seconds), ...(host ? ['-H', `host=${host}`] : []), url]);
  const j = JSON.parse(await runLoad(cmd, args, onTick)) as { requests: { average: number }; latency: { p50: number; p99: number } };
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99 };
}

async function paced(url: string, host: string | undefined, onTick: () => void): Promise<{ p50: number; p99: number }> {
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, [PACED, url, host ?? '-', '1000', String(SECONDS)]);
  const out = (await runLoad(cmd, args, onTick)).trim().split('\n').pop()!;
  const j = JSON.parse(out) as { p50: number; p99: number; errors: number };
  if (j.errors > 0) console.error(`  (paced run to ${url} saw ${j.errors} errors)`);
  return j;
}

/** The largest RSS of the processes (MiB): each process of a proxy holds its own heap, so per process is what a budget means. */
function rssMiB(pids: number[]): number {
  let largest = 0;
  for (const pid of pids) {
    try {
      largest = Math.max(largest, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    } catch { /* gone */ }
  }
  return largest;
}

/**
 * One row of the table. `pids` are the processes that serve the traffic (whose CPU and RSS are measured: mesh's
 * one process or its workers, nginx's workers, not its master); `primary` is a `--workers N` mesh primary,
 * reported on its own line.
 */
export interface Target { name: string; url: string; host: string | undefined; pids: () => number[]; primary?: () => number }

interface Measured { rows: Row[]; rounds: Map<string, RoundFigures>[]; primaries: Map<string, { idle: number; peak: number }> }

/**
 * Reads every target's idle RSS (before any load), warms every target up (JIT, connection pools), then runs
 * ROUNDS rounds; in each, every target gets a saturated run and then a paced one. RSS is sampled every 200 ms
 * during the runs (the peak is the largest sample). Figures are medians over the rounds; the per-round figures
 * are kept for the targets, whose ratios are taken within a round.
 */
async function measureAll(targets: Target[]): Promise<Measured> {
  const idle = targets.map((t) => (t.pids().length > 0 ? rssMiB(t.pids()) : null));
  const primaries = new Map<string, { idle: number; peak: number }>();
  for (const t of targets) if (t.primary) primaries.set(t.name, { idle: rssMiB([t.primary()]), peak: 0 });
  const runs = targets.map(() => ({ sat: [] as Saturated[], paced: [] as Array<{ p50: number; p99: number }>, peak: 0, cpu: [] as number[] }));
  const sampler = (i: number) => () => {
    const t = targets[i]!;
    runs[i]!.peak = Math.max(runs[i]!.peak, rssMiB(t.pids()));
    const p = t.primary ? primaries.get(t.name) : undefined;
    if (p) p.peak = Math.max(p.peak, rssMiB([t.primary!()]));
  };
  for (const [i, t] of targets.entries()) if (WARMUP_SECONDS > 0) await saturate(t.url, t.host, sampler(i), WARMUP_SECONDS);
  const rounds: Map<string, RoundFigures>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const figures = new Map<string, RoundFigures>();
    // Every other round runs the targets in reverse, so no target always follows the same neighbour.
    const order = [...targets.entries()];
    if (round % 2 === 0) order.reverse();
    const measure = async ([i, t]: [number, Target]): Promise<void> => {
      const cpuBefore = cpuMicros(t.pids());
      const sat = await saturate(t.url, t.host, sampler(i));
      runs[i]!.sat.push(sat);
      const cpu = t.pids().length > 0 && sat.rps > 0 ? (cpuMicros(t.pids()) - cpuBefore) / (sat.rps * SECONDS) : null;
      if (cpu !== null) runs[i]!.cpu.push(cpu);
      figures.set(t.name, { rps: sat.rps, p99: sat.p99, cpuUs: cpu, pacedP99: NaN });
    };
    // Tracing only: the mesh proxies are loaded at the same time (sharing the proxy's core), so whatever else
    // the machine does in that minute weighs on each alike; one after the other, two identical proxies on this
    // shared machine came out up to 30% apart in CPU per request.
    if (TRACING_ONLY) await Promise.all(order.filter(([, t]) => t.pids().length > 0).map(measure));
    for (const entry of order) if (!TRACING_ONLY || entry[1].pids().length === 0) await measure(entry);
    for (const [i, t] of targets.entries()) {
      if (TRACING_ONLY) break;
      const p = await paced(t.url, t.host, sampler(i));
      runs[i]!.paced.push(p);
      figures.get(t.name)!.pacedP99 = p.p99;
    }
    rounds.push(figures);
    console.error(`  round ${round}/${ROUNDS}: ${targets.map((t, i) => `${t.name} ${Math.round(runs[i]!.sat.at(-1)!.rps)} req/s`).join(', ')}`);
  }
  const rows = targets.map((t, i) => {
    const r = runs[i]!;
    return {
      name: t.name, rps: median(r.sat.map((x) => x.rps)), p50: median(r.sat.map((x) => x.p50)), p99: median(r.sat.map((x) => x.p99)),
      pacedP50: median(r.paced.map((x) => x.p50)), pacedP99: median(r.paced.map((x) => x.p99)),
      rssIdleMiB: idle[i]!, rssPeakMiB: t.pids().length ? r.peak : null,
      cpuUs: r.cpu.length > 0 ? median(r.cpu) : null,
    };
  });
  return { rows, rounds, primaries };
}

async function startMeshProxy(registry: string, workers: number, cpu: string | undefined, extra: string[] = [], bin?: string): Promise<{ daemon: Daemon; url: string }> {
  const port = await freePort();
  const admin = await freePort();
  const args = ['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--registry', registry, '--workers', String(workers), ...extra];
  const daemon = startMesh(args, { env: profileEnv(), ...(bin === undefined ? {} : { bin }) });
  daemons.push(daemon);
  if (TASKSET && cpu !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cpu, String(daemon.child.pid)]);
  await daemon.waitFor(/mesh proxy: listening on/, 20_000);
  return { daemon, url: `http://127.0.0.1:${port}/` };
}

/** Runs the benchmark once (fresh processes) and returns its rounds' figures. */
export async function main(): Promise<Map<string, RoundFigures>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-proxy-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    console.log(`mesh proxy benchmark: ${SECONDS}s per run after a ${WARMUP_SECONDS}s warm-up, median of ${ROUNDS} interleaved rounds, ${CONNECTIONS} connections, load by ${WRK ? 'wrk' : 'autocannon'}, `
      + `${TASKSET ? `proxy pinned to CPU ${PROXY_CPU}, load and backend on CPU ${LOAD_CPU}` : 'no taskset: nothing pinned'}; ${cpus().length} CPUs`);
    if (!WRK) console.log('wrk is not installed: saturation load by autocannon instead (apt-get install wrk)');
    if (!NGINX) console.log('nginx is not installed: the nginx baseline and every target relative to it are skipped, and the backend is a node:http server (apt-get install nginx-light)');
    if (!H2LOAD) console.log('h2load is not installed: the HTTP/2 section cannot use it (apt-get install nghttp2-client)');
    const bePort = await freePort();
    if (NGINX) await startNginx(nginxConf(dir, 'backend', `  server { listen 127.0.0.1:${bePort}; location / { return 200 "ok"; } }`), LOAD_CPU);
    else await startNodeBackend(bePort);
    console.log(`backend: ${NGINX ? 'nginx returning a fixed 2-byte body' : 'node:http hello'} on 127.0.0.1:${bePort}`);

    const registry = await startBenchRegistry(dir, `127.0.0.1:${bePort}`, daemons);

    // Every target runs for the whole benchmark (idle while another is measured), so rounds can interleave.
    const targets: Target[] = [{ name: 'direct', url: `http://127.0.0.1:${bePort}/`, host: undefined, pids: () => [] }];
    const proxies: Daemon[] = [];
    const meshTarget = async (name: string, workers: number, extra: string[] = [], bin?: string): Promise<void> => {
      const p = await startMeshProxy(registry, workers, workers === 1 ? PROXY_CPU : undefined, extra, bin);
      proxies.push(p.daemon);
      targets.push(workers === 1
        ? { name, url: p.url, host: 'bench', pids: () => [p.daemon.child.pid!] }
        : { name, url: p.url, host: 'bench', pids: () => childPids(p.daemon.child.pid!), primary: () => p.daemon.child.pid! });
    };
    // Tracing cost: the same one-worker proxy exporting every span (100%) or 1% of them to a collector that
    // accepts and discards (a node:http sink on the load generator's CPU).
    const sinkPort = await freePort();
    await startNodeSink(sinkPort);
    const traceArgs = (ratio: string) => ['--trace-endpoint', `http://127.0.0.1:${sinkPort}`, '--trace-sample', ratio];
    await meshTarget(PLAIN_ROW, 1);
    await meshTarget(TRACED_ROW, 1, traceArgs('1'));
    if (BASELINE_BIN !== undefined) {
      await meshTarget(`${PLAIN_ROW}${BASELINE_SUFFIX}`, 1, [], BASELINE_BIN);
      await meshTarget(`${TRACED_ROW}${BASELINE_SUFFIX}`, 1, traceArgs('1'), BASELINE_BIN);
    }
    let ng: ChildProcess | undefined;
    if (!TRACING_ONLY) {
      await meshTarget('mesh, tracing 1%', 1, traceArgs('0.01'));
      await meshTarget('mesh --workers 2', 2);
      // ── Floor row (issue 13): a bare node:http + undici proxy, the least any Node proxy costs, on the proxy's
      //    CPU in the same rounds. test/bench/bare-proxy.ts provides startBareProxy().
      const bare = await startBareProxy({ backend: `127.0.0.1:${bePort}`, cpu: TASKSET ? PROXY_CPU : undefined, pinned });
      stops.push(() => bare.stop());
      targets.push(bare);
      if (NGINX) {
        const ngPort = await freePort();
        ng = await startNginx(nginxConf(dir, 'proxy', `  upstream be { server 127.0.0.1:${bePort}; keepalive 128; }\n  server { listen 127.0.0.1:${ngPort}; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } }`), PROXY_CPU);
        // nginx's master only starts and watches its worker: the worker does the proxying.
        targets.push({ name: NGINX_ROW, url: `http://127.0.0.1:${ngPort}/`, host: undefined, pids: () => childPids(ng!.pid!) });
      }
    }
    const measured = await measureAll(targets);
    for (const d of proxies) await d.stop('SIGTERM');
    for (const stop of stops) await stop();
    if (ng !== undefined) await stopChild(ng);
    for (const d of daemons) await d.stop('SIGTERM'); // the registry (the proxies have stopped already)
    for (const c of children) await stopChild(c);
    // All stopped: a next run (MESH_BENCH_RUNS) starts its own.
    daemons.length = 0;
    children.length = 0;
    printTable(measured);
    return measured.rounds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NGINX_ROW = 'nginx (reverse proxy)';
const PLAIN_ROW = 'mesh --workers 1';
const TRACED_ROW = 'mesh, tracing 100%';
const BASELINE_SUFFIX = ' (base)';

function printTable({ rows, rounds, primaries }: Measured): void {
  const direct = rows.find((r) => r.name === 'direct')!;
  const nginx = rows.find((r) => r.name === NGINX_ROW);
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const mib = (n: number | null) => (n === null ? '-' : f(n, 0));
  console.log('');
  console.log(['', 'req/s', 'p50 ms', 'p99 ms', '@1k p50', '@1k p99', '+p99 @1k', 'RSS idle', 'RSS peak', 'vs direct', 'vs nginx', 'CPU µs/req'].map((h, i) => (i === 0 ? h.padEnd(24) : h.padStart(9))).join(' '));
  for (const r of rows) {
    console.log([
      r.name.padEnd(24), f(r.rps, 0).padStart(9), f(r.p50).padStart(9), f(r.p99).padStart(9), f(r.pacedP50, 3).padStart(9), f(r.pacedP99, 3).padStart(9),
      f(r.pacedP99 - direct.pacedP99, 3).padStart(9), mib(r.rssIdleMiB).padStart(9), mib(r.rssPeakMiB).padStart(9),
      `${f((r.rps / direct.rps) * 100, 0)}%`.padStart(9), nginx ? `${f((r.rps / nginx.rps) * 100, 0)}%`.padStart(9) : '-'.padStart(9),
      (r.cpuUs === null ? '-' : f(r.cpuUs, 1)).padStart(10),
    ].join(' '));
  }
  for (const [name, p] of primaries) console.log(`${name}: its primary (forks and watches the workers, serves nothing) RSS idle ${f(p.idle, 0)} MiB, peak ${f(p.peak, 0)} MiB; the row's RSS is the largest worker's`);
  const plain = rows.find((r) => r.name === 'mesh --workers 1');
  const cost = (name: string) => {
    const r = rows.find((x) => x.name === name);
    if (!r || !plain) return '-';
    const cpu = r.cpuUs !== null && plain.cpuUs !== null ? `, CPU per request +${f((r.cpuUs / plain.cpuUs - 1) * 100, 1)}%` : '';
    return `req/s ${f((r.rps / plain.rps - 1) * 100, 1)}%${cpu}`;
  };
  console.log(`\ntracing against mesh --workers 1 — 100% sampling: ${cost(TRACED_ROW)}; 1% sampling: ${cost('mesh, tracing 1%')} (targets: ≤ 10% and ≤ 2% of throughput)`);
  printTracingRatio(rounds, '');
  if (BASELINE_BIN !== undefined) printTracingRatio(rounds, BASELINE_SUFFIX);
  if (TRACING_ONLY) return;
  printTargets({
    rows: rows.filter((r) => r.name.startsWith('mesh')).map((r) => ({ name: r.name, rssIdleMiB: r.rssIdleMiB, rssPeakMiB: r.rssPeakMiB })),
    rounds, direct: 'direct', nginx: nginx === undefined ? undefined : NGINX_ROW, out: (line) => console.log(line),
  });
}

/**
 * CPU per request with tracing at 100% over without, taken within each round (both proxies ran in the same
 * minute of a shared machine) and then the median: the figure a tracing change is judged by.
 */
function printTracingRatio(rounds: Map<string, RoundFigures>[], suffix: string): void {
  const per = rounds.map((r) => ({ plain: r.get(`${PLAIN_ROW}${suffix}`)?.cpuUs ?? NaN, traced: r.get(`${TRACED_ROW}${suffix}`)?.cpuUs ?? NaN }));
  const ratios = per.map((p) => p.traced / p.plain);
  console.log(`CPU µs/request${suffix}, tracing off → 100% per round: ${per.map((p, i) => `${fmt(p.plain)}→${fmt(p.traced)} (${fmt(ratios[i]!, 3)})`).join(', ')}`);
  const run = tracingRun(rounds, suffix);
  console.log(`  median: off ${fmt(run.plain)}, 100% ${fmt(run.traced)}, ratio ${fmt(run.ratio, 3)} (per-round ratios' median)`);
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** One run's tracing figures: the medians of its rounds (CPU µs per request off and on, their per-round ratio). */
function tracingRun(rounds: Map<string, RoundFigures>[], suffix: string): { plain: number; traced: number; ratio: number } {
  const per = rounds.map((r) => ({ plain: r.get(`${PLAIN_ROW}${suffix}`)?.cpuUs ?? NaN, traced: r.get(`${TRACED_ROW}${suffix}`)?.cpuUs ?? NaN }));
  return { plain: median(per.map((p) => p.plain)), traced: median(per.map((p) => p.traced)), ratio: median(per.map((p) => p.traced / p.plain)) };
}

/**
 * MESH_BENCH_RUNS=N (tracing only): a process keeps its luck for its whole life on a shared machine (two
 * proxies of the same code stayed 30% apart over every round of one run), so rounds within a run cannot
 * average it out; N runs, each with fresh processes, and the median over the runs can.
 */
function printTracingRuns(runs: Array<Map<string, RoundFigures>[]>, suffix: string): void {
  const each = runs.map((r) => tracingRun(r, suffix));
  console.log(`\nover ${runs.length} runs${suffix}: ratio per run ${each.map((e) => fmt(e.ratio, 3)).join(', ')}`);
  console.log(`  median of the runs: off ${fmt(median(each.map((e) => e.plain)))}, 100% ${fmt(median(each.map((e) => e.traced)))} µs/request, ratio ${fmt(median(each.map((e) => e.ratio)), 3)}`);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const runs = [await main()];
  const wanted = TRACING_ONLY ? Number(process.env.MESH_BENCH_RUNS ?? 1) : 1;
  while (runs.length < wanted) runs.push(await main());
  if (runs.length > 1) {
    printTracingRuns(runs, '');
    if (BASELINE_BIN !== undefined) printTracingRuns(runs, BASELINE_SUFFIX);
  }
  // ── HTTP/2 section (issue 13): h2load through mesh and through nginx on one core, from test/bench/h2.bench.ts.
  if (process.env.BENCH_SKIP_H2 !== '1' && !TRACING_ONLY) {
    console.log('');
    await runH2Bench();
  }
  if (process.env.BENCH_SKIP_METRICS_COST !== '1' && !TRACING_ONLY) {
    try {
      const { runMetricsCostBench } = await import('./metrics-cost.js');
      console.log('');
      await runMetricsCostBench();
    } catch (err) {
      console.error(`metrics cost section failed: ${(err as Error).message}`);
    }
  }
  process.exit(0);
}
