// HTTP/2 (h2c) through the proxy against its baselines, in one run (`npm run build && node
// dist/test/bench/h2.bench.js`, or as a section of `npm run bench:proxy` through runH2Bench(); not a test).
//   h2 direct        — h2load straight at the h2c backend
//   h2 mesh          — h2load through `mesh proxy start --workers 1`, pinned to its own core (taskset)
//   h2 nginx         — h2load through nginx on an `http2` listener with `grpc_pass` to the same h2c backend,
//                      pinned like the proxy (why grpc_pass: below, at nginxH2Proxy)
//   http/1.1 mesh    — the same proxy, HTTP/1.1 (h2load --h1, 64 connections), to the backend's HTTP/1.1 port:
//                      the issue's target is h2 through the proxy >= HTTP/1.1 through the proxy
// The backend is nginx answering a fixed 2-byte body on an h2c port and an HTTP/1.1 port (a node:http2 hello
// when nginx is missing). Load by h2load (Debian nghttp2-client) with 64 streams over 4 connections, or by
// h2-load.js when h2load is missing. Each round runs every target once (interleaved, so a noisy minute on the
// shared machine hits all of them); ratios are taken inside a round; figures are medians over the rounds. CPU
// time per request comes from /proc/<pid>/stat of the proxy process (nginx: its worker, not the master).
// BENCH_H2_PROFILE=<dir> runs the proxy under --cpu-prof and prints its top self-time functions;
// BENCH_H2_BASELINE=<other checkout>/bin/mesh adds that build's proxy as a row, for A/B in the same rounds.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runMesh, startMesh, type Daemon } from '../helpers/mesh.js';
import { startBenchRegistry } from './bench-registry.js';
import { topSelfTime } from './cpu-profile.js';
import { childPids, cpuMicros, median } from './proc-stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(0, Number(process.env.BENCH_ROUNDS ?? 3));
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** h2 load shape: CLIENTS connections with STREAMS streams in flight on each. */
const CLIENTS = Number(process.env.BENCH_H2_CLIENTS ?? 4);
const STREAMS = Number(process.env.BENCH_H2_STREAMS ?? 16);
/** HTTP/1.1 row: as many connections as h2 has streams in flight, like wrk -c64 in proxy.bench.ts. */
const H1_CONNECTIONS = CLIENTS * STREAMS;
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const H2LOAD = ['/usr/bin/h2load'].find((p) => existsSync(p)) ?? (has('h2load') ? 'h2load' : undefined);
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? (has('nginx') ? 'nginx' : undefined);
const NODE_LOAD = fileURLToPath(new URL('./h2-load.js', import.meta.url));
const TASKSET = has('taskset') && cpus().length >= 2;
const LOAD_CPU = '0';
const PROXY_CPU = String(cpus().length - 1);

interface Run { rps: number; p50: number; p99: number; errors: number }
interface Target { name: string; url: string; authority: string; h1: boolean; pids: () => number[] }
export interface H2Row { name: string; rps: number; p50: number; p99: number; errors: number; cpuUs: number | null }
export interface H2BenchResult { rows: H2Row[]; meshVsNginx: number | null; meshVsHttp1: number | null; cpuVsNginx: number | null }

function pinned(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return TASKSET && cpu !== undefined ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

/** One h2load run; latency percentiles come from its per-request log (h2load prints only min/max/mean). */
function h2load(t: Target, seconds: number, dir: string): Run {
  const log = join(dir, 'h2load.log');
  const shape = t.h1 ? ['--h1', '-c', String(H1_CONNECTIONS), '-m', '1'] : ['-c', String(CLIENTS), '-m', String(STREAMS)];
  // `:authority` names the service; in --h1 mode h2load sends it as Host (a `host:` header would add a second).
  const [cmd, args] = pinned(LOAD_CPU, H2LOAD!, [...shape, '-D', String(seconds), `--log-file=${log}`, '-H', `:authority: ${t.authority}`, t.url]);
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const out = r.stdout ?? '';
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const errors = req === null ? NaN : Number(req[2]) + Number(req[3]) + Number(req[4]) + (codes === null ? 0 : Number(codes[2]) + Number(codes[3]) + Number(codes[4]));
  if (!Number.isFinite(rps)) throw new Error(`h2load ${args.join(' ')} failed: ${r.stderr}${out}`);
  const micros: number[] = [];
  if (existsSync(log)) {
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const cols = line.split('\t');
      if (cols.length >= 3) micros.push(Number(cols[2]));
    }
    rmSync(log);
  }
  micros.sort((a, b) => a - b);
  const at = (q: number): number => (micros.length === 0 ? NaN : micros[Math.min(micros.length - 1, Math.floor(q * micros.length))]! / 1000);
  return { rps, p50: at(0.5), p99: at(0.99), errors };
}

/** The node:http2 load generator, for machines without h2load (h2 only). */
function nodeLoad(t: Target, seconds: number): Run {
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, [NODE_LOAD, t.url, t.authority, String(seconds), String(CLIENTS * STREAMS), String(CLIENTS)]);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`h2-load failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Run;
}

function nginxConf(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.conf`);
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  // Run as the current user: as root, nginx would otherwise hand its worker to "nobody".
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  writeFileSync(file, `${user}worker_processes 1;\npid ${d}/nginx.pid;\nerror_log ${d}/error.log;\ndaemon off;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n`
    + `  client_body_temp_path ${d}/b; proxy_temp_path ${d}/p; fastcgi_temp_path ${d}/f; uwsgi_temp_path ${d}/u; scgi_temp_path ${d}/s;\n`
    + `  keepalive_requests 1000000; keepalive_timeout 65s; http2_max_concurrent_streams 256;\n${body}\n}\n`);
  return file;
}

/**
 * nginx as the h2c proxy to compare with: an `http2` listener (h2c with prior knowledge, as the mesh's) and
 * `grpc_pass` to the backend's h2c port, with upstream keep-alive. grpc_pass rather than proxy_pass because it
 * is the only way nginx keeps HTTP/2 on the upstream hop, which is what the mesh does (and what gRPC needs:
 * proxy_pass speaks HTTP/1.1 upstream and cannot carry trailers), so both proxies do the same work per request.
 * nginx opens one upstream connection per stream in flight (it does not multiplex upstream); the mesh
 * multiplexes them over one session.
 */
function nginxH2Proxy(dir: string, port: number, backendH2: number): string {
  return nginxConf(dir, 'h2proxy', `  upstream be { server 127.0.0.1:${backendH2}; keepalive 256; }\n`
    + `  server { listen 127.0.0.1:${port} http2; location / { grpc_pass grpc://be; } }`);
}

async function startNginx(conf: string, cpu: string | undefined, children: ChildProcess[]): Promise<ChildProcess> {
  const [cmd, args] = pinned(cpu, NGINX!, ['-c', conf, '-e', 'stderr']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  // nginx prints nothing when it is up: wait for its worker to exist.
  for (let i = 0; i < 100 && childPids(child.pid!).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  return child;
}

async function startNodeH2Backend(port: number, children: ChildProcess[]): Promise<void> {
  const code = `const h=require('http2').createServer();h.on('stream',(s)=>{s.respond({':status':200,'content-type':'text/plain'});s.end('ok')});h.listen(${port},'127.0.0.1',()=>console.log('up'))`;
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, ['-e', code]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise((r) => child.stdout!.once('data', r));
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM'); // nginx's master stops its worker on SIGTERM; SIGKILL would orphan it
  await exited;
}

/** `mesh proxy start --workers 1` pinned to the proxy CPU; under --cpu-prof (written on exit) with profileDir. */
async function startProxy(registry: string, profileDir: string | undefined, bin?: string): Promise<{ daemon: Daemon; port: number }> {
  const port = await freePort();
  const nodeArgs = profileDir === undefined ? undefined : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const daemon = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${await freePort()}`, '--registry', registry, '--workers', '1'], { nodeArgs, bin });
  await daemon.waitFor(/mesh proxy: listening on/, 20_000);
  if (TASKSET) spawnSync('taskset', ['-a', '-p', '-c', PROXY_CPU, String(daemon.child.pid)]);
  return { daemon, port };
}

/** Runs the h2 benchmark, prints its table and returns the rows and the round-wise ratios (medians). */
export async function runH2Bench(): Promise<H2BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-h2-'));
  const profileDir = process.env.BENCH_H2_PROFILE;
  const children: ChildProcess[] = [];
  const daemons: Daemon[] = [];
  try {
    const beH2 = await freePort();
    const beH1 = await freePort();
    if (NGINX) {
      await startNginx(nginxConf(dir, 'backend', `  server { listen 127.0.0.1:${beH2} http2; location / { return 200 "ok"; } }\n`
        + `  server { listen 127.0.0.1:${beH1}; location / { return 200 "ok"; } }`), LOAD_CPU, children);
    } else {
      await startNodeH2Backend(beH2, children);
    }
    const registry = await startBenchRegistry(dir, `127.0.0.1:${beH2}`, daemons);
    if (NGINX) {
      const r = await runMesh(['register', 'bench-h1', '--address', `127.0.0.1:${beH1}`, '--registry', registry]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const proxy = await startProxy(registry, undefined);
    daemons.push(proxy.daemon);
    const port = proxy.port;
    const targets: Target[] = [
      { name: 'h2 direct', url: `http://127.0.0.1:${beH2}/`, authority: 'bench', h1: false, pids: () => [] },
      { name: 'h2 mesh --workers 1', url: `http://127.0.0.1:${port}/`, authority: 'bench', h1: false, pids: () => [proxy.daemon.child.pid!] },
    ];
    const baselineBin = process.env.BENCH_H2_BASELINE;
    if (baselineBin !== undefined) {
      const base = await startProxy(registry, undefined, baselineBin);
      daemons.push(base.daemon);
      targets.push({ name: 'h2 mesh baseline', url: `http://127.0.0.1:${base.port}/`, authority: 'bench', h1: false, pids: () => [base.daemon.child.pid!] });
    }
    if (NGINX) {
      const ngPort = await freePort();
      const ng = await startNginx(nginxH2Proxy(dir, ngPort, beH2), PROXY_CPU, children);
      targets.push({ name: 'h2 nginx grpc_pass', url: `http://127.0.0.1:${ngPort}/`, authority: 'bench', h1: false, pids: () => childPids(ng.pid!) });
      if (H2LOAD) targets.push({ name: 'http/1.1 mesh --workers 1', url: `http://127.0.0.1:${port}/`, authority: 'bench-h1', h1: true, pids: () => [proxy.daemon.child.pid!] });
    }
    console.log(`mesh h2c benchmark: ${SECONDS}s per run after a ${WARMUP_SECONDS}s warm-up, median of ${ROUNDS} interleaved rounds; `
      + `h2 load ${H2LOAD ? 'h2load' : 'h2-load.js (h2load is not installed)'} -c ${CLIENTS} -m ${STREAMS}, http/1.1 load h2load --h1 -c ${H1_CONNECTIONS}; `
      + `backend ${NGINX ? 'nginx' : 'node:http2 (nginx is not installed: no nginx row)'}; ${TASKSET ? `proxies on CPU ${PROXY_CPU}, load and backend on CPU ${LOAD_CPU}` : 'nothing pinned'}`);

    const load = (t: Target, seconds: number): Run => (H2LOAD ? h2load(t, seconds, dir) : nodeLoad(t, seconds));
    if (WARMUP_SECONDS > 0) for (const t of targets) load(t, WARMUP_SECONDS);
    const runs = targets.map(() => [] as Array<Run & { cpuUs: number }>);
    for (let round = 1; round <= ROUNDS; round++) {
      targets.forEach((t, i) => {
        const before = cpuMicros(t.pids());
        const run = load(t, SECONDS);
        runs[i]!.push({ ...run, cpuUs: t.pids().length > 0 && run.rps > 0 ? (cpuMicros(t.pids()) - before) / (run.rps * SECONDS) : NaN });
      });
      console.error(`  round ${round}/${ROUNDS}: ${targets.map((t, i) => `${t.name} ${Math.round(runs[i]!.at(-1)!.rps)} req/s`).join(', ')}`);
    }
    const rows: H2Row[] = targets.map((t, i) => {
      const r = runs[i]!;
      const cpu = median(r.map((x) => x.cpuUs));
      return { name: t.name, rps: median(r.map((x) => x.rps)), p50: median(r.map((x) => x.p50)), p99: median(r.map((x) => x.p99)), errors: r.reduce((n, x) => n + x.errors, 0), cpuUs: Number.isFinite(cpu) ? cpu : null };
    });
    const ratio = (a: string, b: string, of: 'rps' | 'cpuUs'): number | null => {
      const ia = targets.findIndex((t) => t.name === a);
      const ib = targets.findIndex((t) => t.name === b);
      if (ia < 0 || ib < 0) return null;
      const m = median(runs[ia]!.map((x, k) => x[of] / runs[ib]![k]![of]));
      return Number.isFinite(m) ? m : null;
    };
    const result: H2BenchResult = {
      rows,
      meshVsNginx: ratio('h2 mesh --workers 1', 'h2 nginx grpc_pass', 'rps'),
      meshVsHttp1: ratio('h2 mesh --workers 1', 'http/1.1 mesh --workers 1', 'rps'),
      // nginx's CPU per request over the mesh's: >= 0.5 means the mesh spends at most twice nginx's CPU.
      cpuVsNginx: ratio('h2 nginx grpc_pass', 'h2 mesh --workers 1', 'cpuUs'),
    };
    await proxy.daemon.stop('SIGTERM');
    printTable(result);
    if (profileDir !== undefined) {
      // A proxy of its own under the profiler, with h2 load only, so the profile shows the h2 path alone and
      // the profiler's overhead stays out of the figures above.
      const profiled = await startProxy(registry, profileDir);
      daemons.push(profiled.daemon);
      load({ ...targets[1]!, url: `http://127.0.0.1:${profiled.port}/` }, SECONDS);
      await profiled.daemon.stop('SIGTERM');
      printProfile(profileDir);
    }
    return result;
  } finally {
    for (const d of daemons.reverse()) await d.stop('SIGTERM');
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(r: H2BenchResult): void {
  const f = (n: number | null, d = 2): string => (n !== null && Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log('');
  console.log(['', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/req'].map((h, i) => (i === 0 ? h.padEnd(28) : h.padStart(10))).join(' '));
  for (const row of r.rows) {
    console.log([row.name.padEnd(28), f(row.rps, 0).padStart(10), f(row.p50).padStart(10), f(row.p99).padStart(10), String(row.errors).padStart(10), f(row.cpuUs, 1).padStart(10)].join(' '));
  }
  const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(0)}%`);
  console.log(`\nh2 through mesh, per round then median: ${pct(r.meshVsHttp1)} of HTTP/1.1 through mesh (target >= 100%), ${pct(r.meshVsNginx)} of nginx's req/s (target >= 50%), `
    + `nginx CPU/req over mesh CPU/req ${f(r.cpuVsNginx)} (target >= 0.50)`);
}

function printProfile(dir: string): void {
  const files = readdirSync(dir).filter((n) => n.endsWith('.cpuprofile')).sort();
  const last = files.at(-1);
  if (last === undefined) { console.log(`no .cpuprofile in ${dir}`); return; }
  console.log(`\ntop self time of the proxy (${join(dir, last)}):`);
  for (const line of topSelfTime(join(dir, last), 20)) console.log(`  ${line}`);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  await runH2Bench();
  process.exit(0);
}
