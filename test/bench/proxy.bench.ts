// `npm run bench:proxy`: the proxy against its baselines, in one run, on one fast backend.
//   direct        — load straight at the backend
//   mesh 1 worker — through `mesh proxy start --workers 1`, pinned to its own core (taskset) when possible
//   mesh 2 workers— through `--workers 2` (both cores: shares them with the load generator and backend)
//   nginx         — through nginx as a reverse proxy with upstream keep-alive, pinned like mesh 1 worker
// For each (median of interleaved rounds after a warm-up): saturated req/s and p50/p99 (wrk when installed, else autocannon, each in its own process),
// p50/p99 at a fixed 1,000 req/s (paced-client.js, open loop), peak RSS of the
// proxy, and ratios to direct and to nginx. The backend is nginx serving a fixed body when nginx is
// installed (so the backend is not the bottleneck), else a node:http server. Not a test: prints numbers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startMesh, REPO_ROOT, type Daemon } from '../helpers/mesh.js';
import { startBenchRegistry } from './bench-registry.js';

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
const TASKSET = has('taskset') && cpus().length >= 2;
const LOAD_CPU = '0';
const PROXY_CPU = String(cpus().length - 1);

interface Row { name: string; rps: number; p50: number; p99: number; pacedP50: number; pacedP99: number; rssMiB: number | null; cpuUs: number | null }

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

function saturate(url: string, host: string | undefined, seconds = SECONDS): { rps: number; p50: number; p99: number } {
  if (WRK) {
    const [cmd, args] = pinned(LOAD_CPU, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url]);
    const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
    const ms = (re: RegExp) => {
      const m = re.exec(out);
      if (!m) return NaN;
      const v = Number(m[1]);
      return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
    };
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50: ms(/50%\s+([\d.]+)(us|ms|s)/), p99: ms(/99%\s+([\d.]+)(us|ms|s)/) };
  }
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, [AUTOCANNON, '-j', '-c', String(CONNECTIONS), '-d', String(seconds), ...(host ? ['-H', `host=${host}`] : []), url]);
  const j = JSON.parse(spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 }).stdout) as { requests: { average: number }; latency: { p50: number; p99: number } };
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99 };
}

function paced(url: string, host: string | undefined): { p50: number; p99: number } {
  const [cmd, args] = pinned(LOAD_CPU, process.execPath, [PACED, url, host ?? '-', '1000', String(SECONDS)]);
  const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim().split('\n').pop()!;
  const j = JSON.parse(out) as { p50: number; p99: number; errors: number };
  if (j.errors > 0) console.error(`  (paced run to ${url} saw ${j.errors} errors)`);
  return j;
}

function rssMiB(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total = Math.max(total, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    } catch { /* gone */ }
  }
  return total;
}

/**
 * CPU time (user + system, µs) the processes have used, from /proc/<pid>/stat. Per request this is the figure
 * that survives a shared machine: throughput falls when another process takes the core, CPU per request does not.
 */
function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone */ }
  }
  return (ticks / CLOCK_TICKS) * 1e6;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function childPids(pid: number): number[] {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

interface Target { name: string; url: string; host: string | undefined; pids: () => number[] }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Warms every target up (JIT, connection pools), then runs ROUNDS rounds; in each, every target gets a
 * saturated run and then a paced one. Figures are medians over the rounds; RSS is the peak seen (read after
 * each run ends — RSS rarely shrinks, so close to the peak).
 */
function measureAll(targets: Target[]): Row[] {
  for (const t of targets) if (WARMUP_SECONDS > 0) saturate(t.url, t.host, WARMUP_SECONDS);
  const runs = targets.map(() => ({ sat: [] as Array<{ rps: number; p50: number; p99: number }>, paced: [] as Array<{ p50: number; p99: number }>, peak: 0, cpu: [] as number[] }));
  for (let round = 1; round <= ROUNDS; round++) {
    targets.forEach((t, i) => {
      const cpuBefore = cpuMicros(t.pids());
      const sat = saturate(t.url, t.host);
      runs[i]!.sat.push(sat);
      if (t.pids().length > 0 && sat.rps > 0) runs[i]!.cpu.push((cpuMicros(t.pids()) - cpuBefore) / (sat.rps * SECONDS));
      runs[i]!.peak = Math.max(runs[i]!.peak, rssMiB(t.pids()));
    });
    targets.forEach((t, i) => {
      runs[i]!.paced.push(paced(t.url, t.host));
      runs[i]!.peak = Math.max(runs[i]!.peak, rssMiB(t.pids()));
    });
    console.error(`  round ${round}/${ROUNDS}: ${targets.map((t, i) => `${t.name} ${Math.round(runs[i]!.sat.at(-1)!.rps)} req/s`).join(', ')}`);
  }
  return targets.map((t, i) => {
    const r = runs[i]!;
    return {
      name: t.name, rps: median(r.sat.map((x) => x.rps)), p50: median(r.sat.map((x) => x.p50)), p99: median(r.sat.map((x) => x.p99)),
      pacedP50: median(r.paced.map((x) => x.p50)), pacedP99: median(r.paced.map((x) => x.p99)), rssMiB: t.pids().length ? r.peak : null,
      cpuUs: r.cpu.length > 0 ? median(r.cpu) : null,
    };
  });
}

async function startMeshProxy(registry: string, workers: number, cpu: string | undefined, extra: string[] = []): Promise<{ daemon: Daemon; url: string }> {
  const port = await freePort();
  const admin = await freePort();
  const args = ['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`, '--registry', registry, '--workers', String(workers), ...extra];
  const daemon = startMesh(args);
  daemons.push(daemon);
  if (TASKSET && cpu !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cpu, String(daemon.child.pid)]);
  await daemon.waitFor(/mesh proxy: listening on/, 20_000);
  return { daemon, url: `http://127.0.0.1:${port}/` };
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-proxy-'));
  try {
    console.log(`mesh proxy benchmark: ${SECONDS}s per run after a ${WARMUP_SECONDS}s warm-up, median of ${ROUNDS} interleaved rounds, ${CONNECTIONS} connections, load by ${WRK ? 'wrk' : 'autocannon'}, `
      + `${TASKSET ? `proxy pinned to CPU ${PROXY_CPU}, load and backend on CPU ${LOAD_CPU}` : 'no taskset: nothing pinned'}; ${cpus().length} CPUs`);
    if (!NGINX) console.log('nginx is not installed: the nginx baseline is skipped and the backend is a node:http server');
    const bePort = await freePort();
    if (NGINX) await startNginx(nginxConf(dir, 'backend', `  server { listen 127.0.0.1:${bePort}; location / { return 200 "ok"; } }`), LOAD_CPU);
    else await startNodeBackend(bePort);
    console.log(`backend: ${NGINX ? 'nginx returning a fixed 2-byte body' : 'node:http hello'} on 127.0.0.1:${bePort}`);

    const registry = await startBenchRegistry(dir, `127.0.0.1:${bePort}`, daemons);

    // Every target runs for the whole benchmark (idle while another is measured), so rounds can interleave.
    const targets: Target[] = [{ name: 'direct', url: `http://127.0.0.1:${bePort}/`, host: undefined, pids: () => [] }];
    const one = await startMeshProxy(registry, 1, PROXY_CPU);
    targets.push({ name: 'mesh --workers 1', url: one.url, host: 'bench', pids: () => [one.daemon.child.pid!] });
    // Tracing cost: the same one-worker proxy exporting every span (100%) or 1% of them to a collector that
    // accepts and discards (a node:http sink on the load generator's CPU).
    const sinkPort = await freePort();
    await startNodeSink(sinkPort);
    const traceArgs = (ratio: string) => ['--trace-endpoint', `http://127.0.0.1:${sinkPort}`, '--trace-sample', ratio];
    const traced = await startMeshProxy(registry, 1, PROXY_CPU, traceArgs('1'));
    targets.push({ name: 'mesh, tracing 100%', url: traced.url, host: 'bench', pids: () => [traced.daemon.child.pid!] });
    const traced1 = await startMeshProxy(registry, 1, PROXY_CPU, traceArgs('0.01'));
    targets.push({ name: 'mesh, tracing 1%', url: traced1.url, host: 'bench', pids: () => [traced1.daemon.child.pid!] });
    const two = await startMeshProxy(registry, 2, undefined);
    targets.push({ name: 'mesh --workers 2', url: two.url, host: 'bench', pids: () => childPids(two.daemon.child.pid!) });
    let ng: ChildProcess | undefined;
    if (NGINX) {
      const ngPort = await freePort();
      ng = await startNginx(nginxConf(dir, 'proxy', `  upstream be { server 127.0.0.1:${bePort}; keepalive 128; }\n  server { listen 127.0.0.1:${ngPort}; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } }`), PROXY_CPU);
      targets.push({ name: 'nginx (reverse proxy)', url: `http://127.0.0.1:${ngPort}/`, host: undefined, pids: () => [ng!.pid!] });
    }
    const rows = measureAll(targets);
    await one.daemon.stop('SIGTERM');
    await traced.daemon.stop('SIGTERM');
    await traced1.daemon.stop('SIGTERM');
    await two.daemon.stop('SIGTERM');
    if (ng !== undefined) await stopChild(ng);
    for (const d of daemons) await d.stop('SIGTERM'); // the registry (the proxies have stopped already)
    for (const c of children) await stopChild(c);
    printTable(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: Row[]): void {
  const direct = rows.find((r) => r.name === 'direct')!;
  const nginx = rows.find((r) => r.name.startsWith('nginx'));
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log('');
  console.log(['', 'req/s', 'p50 ms', 'p99 ms', '@1k p50', '@1k p99', '+p99 @1k', 'RSS MiB', 'vs direct', 'vs nginx', 'CPU µs/req'].map((h, i) => (i === 0 ? h.padEnd(24) : h.padStart(9))).join(' '));
  for (const r of rows) {
    console.log([
      r.name.padEnd(24), f(r.rps, 0).padStart(9), f(r.p50).padStart(9), f(r.p99).padStart(9), f(r.pacedP50, 3).padStart(9), f(r.pacedP99, 3).padStart(9),
      f(r.pacedP99 - direct.pacedP99, 3).padStart(9), (r.rssMiB === null ? '-' : f(r.rssMiB, 0)).padStart(9),
      `${f((r.rps / direct.rps) * 100, 0)}%`.padStart(9), nginx ? `${f((r.rps / nginx.rps) * 100, 0)}%`.padStart(9) : '-'.padStart(9),
      (r.cpuUs === null ? '-' : f(r.cpuUs, 1)).padStart(10),
    ].join(' '));
  }
  const plain = rows.find((r) => r.name === 'mesh --workers 1');
  const cost = (name: string) => {
    const r = rows.find((x) => x.name === name);
    if (!r || !plain) return '-';
    const cpu = r.cpuUs !== null && plain.cpuUs !== null ? `, CPU per request +${f((r.cpuUs / plain.cpuUs - 1) * 100, 1)}%` : '';
    return `req/s ${f((r.rps / plain.rps - 1) * 100, 1)}%${cpu}`;
  };
  console.log(`\ntracing against mesh --workers 1 — 100% sampling: ${cost('mesh, tracing 100%')}; 1% sampling: ${cost('mesh, tracing 1%')} (targets: ≤ 10% and ≤ 2% of throughput)`);
  console.log('targets: mesh --workers 1 ≥ 40% of nginx req/s; added p99 at 1k req/s ≤ 0.5 ms; RSS ≤ 120 MiB per worker');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  await main();
  if (process.env.BENCH_SKIP_METRICS_COST !== '1') {
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
