// `npm run bench:dns`: queries per second and p99 latency of the registry's DNS interface, measured with dnsperf
// (Debian dnsperf), side by side in the same run with dnsmasq (Debian dnsmasq / dnsmasq-base) serving the same
// records from a hosts file. Each server is pinned to one core with taskset (when present) and dnsperf to the
// other, and the two are measured in alternating rounds so background noise hits both. The bench installs
// nothing: without dnsperf it says so and stops, without dnsmasq it measures mesh alone.
//
// Two phases per round: saturation (no rate limit, 200 queries outstanding) for queries per second; then a
// fixed 2,000 queries per second with per-query output for the latency percentiles at a load both servers carry.
import { spawn, execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, userInfo } from 'node:os';
import { join } from 'node:path';
import type { InstanceSpec } from '../../src/core/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { findTool } from '../helpers/dns.js';
import { freePort, startMesh, tempDir } from '../helpers/mesh.js';

const SERVICES = 20;
const PER_SERVICE = 4;
const SATURATION_S = 8;
const LATENCY_S = 4;
const ROUNDS = 2;
const LATENCY_QPS = 2_000;

interface Run { qps: number; p99Ms: number; p50Ms: number; lost: string }

const address = (s: number, i: number) => `10.${s}.0.${i + 1}`;

function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return findTool('taskset') ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

function dnsperf(port: number, queries: string, extra: string[]): Promise<string> {
  const [cmd, args] = pinned(1, 'dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queries, ...extra]);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

async function measure(port: number, queries: string): Promise<Run> {
  const sat = await dnsperf(port, queries, ['-l', String(SATURATION_S), '-c', '4', '-q', '200']);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(sat)?.[1] ?? NaN);
  const lost = /Queries lost:\s+(.*)/.exec(sat)?.[1]?.trim() ?? '?';
  const lat = await dnsperf(port, queries, ['-l', String(LATENCY_S), '-Q', String(LATENCY_QPS), '-v']);
  const ms = [...lat.matchAll(/^> \w+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))] ?? NaN;
  return { qps, p99Ms: pct(99), p50Ms: pct(50), lost };
}

async function main(): Promise<void> {
  if (!findTool('dnsperf')) {
    console.log('dns bench: skipped: dnsperf is not installed (apt-get install dnsperf); the bench installs nothing itself');
    return;
  }
  const dnsmasq = findTool('dnsmasq');
  const dir = tempDir('mesh-dns-bench-');
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const queries = join(dir.path, 'queries.txt');
    writeFileSync(queries, Array.from({ length: SERVICES }, (_, s) => `svc-${s}.service.mesh A\n`).join(''));
    const hosts = join(dir.path, 'hosts');
    writeFileSync(hosts, Array.from({ length: SERVICES }, (_, s) => Array.from({ length: PER_SERVICE }, (_, i) => `${address(s, i)} svc-${s}.service.mesh\n`).join('')).join(''));

    const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'data'), '--dns', '127.0.0.1:0']);
    stops.push(() => daemon.stop('SIGTERM'));
    const url = (await daemon.waitFor(/listening on (http:\/\/\S+)/, 30_000))[1]!;
    const meshPort = Number((await daemon.waitFor(/DNS on 127\.0\.0\.1:(\d+)/))[1]);
    // Every thread of the daemon (the main thread answers DNS; libuv and GC helpers share the core) on core 0.
    if (findTool('taskset')) await new Promise((r) => execFile('taskset', ['-a', '-pc', '0', String(daemon.child.pid)], r));
    const client = new RegistryClient({ url });
    for (let s = 0; s < SERVICES; s++) {
      for (let i = 0; i < PER_SERVICE; i++) {
        const spec: InstanceSpec = { service: `svc-${s}`, id: `i${i}`, address: `${address(s, i)}:8080`, weight: 100, priority: 0, tags: {} };
        await client.register(spec);
      }
    }
    await client.close();

    let dnsmasqPort: number | undefined;
    if (dnsmasq) {
      dnsmasqPort = await freePort();
      const [cmd, args] = pinned(0, dnsmasq, [
        '--keep-in-foreground', '--conf-file=/dev/null', `--port=${dnsmasqPort}`, '--listen-address=127.0.0.1', '--bind-interfaces',
        '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--pid-file=', '--log-facility=-', `--user=${userInfo().username}`,
      ]);
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
      stops.push(async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); });
      const deadline = Date.now() + 5_000;
      while (!/started/.test(err) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      if (child.exitCode !== null || !/started/.test(err)) { console.log(`dns bench: dnsmasq did not start: ${err.trim()}`); dnsmasqPort = undefined; }
    }

    const mesh: Run[] = [];
    const anchor: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      mesh.push(await measure(meshPort, queries));
      if (dnsmasqPort !== undefined) anchor.push(await measure(dnsmasqPort, queries));
    }
    const best = (runs: Run[]) => runs.reduce((a, b) => (b.qps > a.qps ? b : a));
    const m = best(mesh);
    const pinning = findTool('taskset') ? 'servers on core 0, dnsperf on core 1' : 'no taskset: unpinned';
    console.log(`dns bench: ${SERVICES} services x ${PER_SERVICE} instances, A queries, UDP, best of ${ROUNDS} rounds (${pinning}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)`);
    const row = (name: string, r: Run) => console.log(`  ${name.padEnd(22)} ${r.qps.toFixed(0).padStart(8)} q/s   p50 ${r.p50Ms.toFixed(3)} ms   p99 ${r.p99Ms.toFixed(3)} ms at ${LATENCY_QPS} q/s   lost ${r.lost}`);
    row('mesh registry --dns', m);
    if (anchor.length > 0) {
      const a = best(anchor);
      row('dnsmasq (hosts file)', a);
      console.log(`  mesh / dnsmasq: ${(100 * m.qps / a.qps).toFixed(0)}% of dnsmasq's queries per second (aim >= 50%)`);
    } else {
      console.log('  dnsmasq: not measured (apt-get install dnsmasq-base for the side-by-side anchor)');
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    dir.cleanup();
  }
}

await main();
