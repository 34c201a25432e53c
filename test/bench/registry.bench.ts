// `npm run bench:registry`: the real daemon (bin/mesh) on both stores, in the same run, under the same load.
//
// The load (registerWhileWatched): 100 SSE watchers (one per service) connected, then 10,000 registrations across
// 100 services, each one `PUT /v1/services/<s>/instances/<id>` — the single-registration API a user calls, on
// both stores, so the numbers compare like with like — over 64 keep-alive connections, one PUT in flight on each,
// sent by raw-http-load.ts (a wrk-like generator: node:http's client cost as much CPU per request as the daemon,
// on the same 2 cores). The watchers are RegistryClient's, as a proxy's. Latency is from writing a PUT to its
// watcher seeing the upsert.
//   embedded   one daemon with a fresh data dir; writes and watchers on it. Then kill -9 and a restart with
//              10,000 instances (first round only), and two baselines: one fdatasync per record, and a replay
//              of 10,000 journal records without a snapshot.
//   etcd       two daemons on one temporary etcd (test/helpers/etcd.ts), registrations through A, the watchers
//              on B, so the latency is what a proxy on another machine would see. A fresh prefix per round.
// Rounds alternate embedded and etcd (MESH_BENCH_ROUNDS, default 2), so a machine whose load changes during the
// run affects both alike; the summary takes the median of each figure. CPU time per registration comes from
// /proc for each daemon, etcd and this process (the client and the watchers' side): on a shared machine it moves
// much less than registrations/s, which depend on what else runs.
//
// Knobs: MESH_BENCH_BIN=<checkout>/bin/mesh (daemons from another build), MESH_BENCH_WATCH_ALL=n (n watchers of every service, as proxies, instead of one per service), MESH_BENCH_STORE=etcd|embedded (one store only), MESH_BENCH_ROUNDS=n, MESH_BENCH_INSTANCES=n (while
// iterating), MESH_BENCH_PIN=1 (daemon A / the embedded daemon on CPU 0, everything else on CPU 1, with taskset),
// MESH_BENCH_NODE_OPTIONS (node flags for the daemons, e.g. the README's heap flags; default none),
// MESH_BENCH_PROFILE_DIR=dir (a CPU profile of every daemon, and SIGUSR2 memory figures after the load;
// MESH_BENCH_HEAP_SNAPSHOT=1 adds heap snapshots, MESH_BENCH_GC=1 collects first when node runs with --expose-gc).
import { execFileSync } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type InstanceSpec } from '../../src/core/types.js';
import { RegistryClient, type Watcher } from '../../src/registry/client.js';
import { EmbeddedStore } from '../../src/registry/store/embedded/embedded-store.js';
import { encodeRecord } from '../../src/registry/store/embedded/journal.js';
import { ETCD_SKIP, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { startMesh, tempDir, type Daemon } from '../helpers/mesh.js';
import { rawLoad } from './raw-http-load.js';

const SERVICES = 100;
/**
 * MESH_BENCH_WATCH_ALL=n: n watchers of every service (as proxies watch) instead of one watcher per service; the
 * latency is the first watcher's. Shows the fan-out cost: each change goes to every watcher.
 */
const WATCH_ALL = Number(process.env.MESH_BENCH_WATCH_ALL ?? 0);
const WATCHERS = WATCH_ALL > 0 ? WATCH_ALL : SERVICES;
const INSTANCES = Number(process.env.MESH_BENCH_INSTANCES ?? 10_000);
const ROUNDS = Number(process.env.MESH_BENCH_ROUNDS ?? 2);
const IN_FLIGHT = 64;
const DEADLINE_MS = 300_000;
const PIN = process.env.MESH_BENCH_PIN === '1';
const ONLY = process.env.MESH_BENCH_STORE;
/**
 * Node flags for the daemons: none by default (the daemon as it ships); the README's heap flags for a small RSS
 * are MESH_BENCH_NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=128".
 */
const DAEMON_NODE_OPTIONS = (process.env.MESH_BENCH_NODE_OPTIONS ?? '').trim();

/** The issue's targets (15) for the etcd store, and the embedded store's own. */
const AIM = { rate: 5_000, etcdP99: 100, embeddedP99: 50, rssMiB: 100, restartMs: 1_000 };

const specOf = (n: number): InstanceSpec => {
  const service = `svc-${String(n % SERVICES).padStart(3, '0')}`;
  return {
    service, id: `${service}-${n}`, address: `10.0.${Math.floor(n / 250)}.${n % 250}:8080`,
    weight: DEFAULTS.weight, priority: 0, zone: 'zone-a', tags: { version: 'v1', team: 'bench' }, check: { ttlMs: 600_000 },
  };
};

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** CPU time (user + system, ms) a process has used: comparable across runs on a machine whose load varies. */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Pins every thread of `pid` to one CPU (MESH_BENCH_PIN): the measured daemon on its own core. */
function pin(pid: number, cpu: number): void {
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** The daemons' environment: node flags (MESH_BENCH_NODE_OPTIONS) and the profiling preload (MESH_BENCH_PROFILE_DIR). */
function daemonEnv(): NodeJS.ProcessEnv {
  const profileDir = process.env.MESH_BENCH_PROFILE_DIR;
  // node refuses --cpu-prof in NODE_OPTIONS; the preload profiles through the inspector instead.
  const preload = profileDir ? `--import ${new URL('./cpu-profile-preload.js', import.meta.url).href}` : '';
  const nodeOptions = [DAEMON_NODE_OPTIONS, preload].join(' ').trim();
  return {
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    ...(profileDir ? { MESH_BENCH_PROFILE_DIR: profileDir, MESH_BENCH_HEAP_SNAPSHOT: process.env.MESH_BENCH_HEAP_SNAPSHOT ?? '', MESH_BENCH_GC: process.env.MESH_BENCH_GC ?? '' } : {}),
  };
}

async function startDaemon(args: string[]): Promise<{ daemon: Daemon; url: string; readyMs: number }> {
  const t0 = performance.now();
  // MESH_BENCH_BIN: the daemons from another checkout's bin/mesh (an A/B comparison in one run of this bench).
  const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', ...args], { env: daemonEnv(), ...(process.env.MESH_BENCH_BIN ? { bin: process.env.MESH_BENCH_BIN } : {}) });
  const m = await daemon.waitFor(/listening on (http:\/\/\S+)/, 30_000);
  return { daemon, url: m[1]!, readyMs: performance.now() - t0 };
}

/** The baseline: append the same record with an fdatasync each, for up to 2 s or 2,000 records. */
async function rawFsyncAppendsPerSecond(dir: string): Promise<number> {
  const record = encodeRecord({ i: 1, op: 'put', inst: { ...specOf(1), health: 'passing', registeredAt: Date.now(), createIndex: 1, modifyIndex: 1 } });
  const fh = await open(join(dir, 'baseline.log'), 'a');
  const t0 = performance.now();
  let n = 0;
  try {
    while (n < 2_000 && performance.now() - t0 < 2_000) {
      await fh.write(record);
      await fh.datasync();
      n++;
    }
  } finally {
    await fh.close();
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Worst case before compaction: replaying 10,000 journal records and no snapshot (in-process). */
async function journalOnlyReplayMs(dir: string): Promise<number> {
  const writer = new EmbeddedStore({ dataDir: dir, compactAfterRecords: Infinity, compactAfterBytes: Infinity });
  await writer.open();
  for (let n = 0; n < INSTANCES; n += 500) await Promise.all(Array.from({ length: 500 }, (_, k) => writer.upsert(specOf(n + k))));
  await writer.close();
  const reader = new EmbeddedStore({ dataDir: dir });
  await reader.open();
  const ms = Number(reader.status().details.replayMs);
  await reader.close();
  return ms;
}

interface LoadResult {
  rate: number;
  /** Sorted watch latencies (ms). */
  latencies: number[];
  /** CPU ms per registration, by process name. */
  cpu: Record<string, number>;
  /** RSS (MiB) after the load, with every instance held, by daemon name. */
  rss: Record<string, number>;
}

/**
 * The measured load: one watcher per service on `watchUrl` (each on its own client: an SSE stream holds its
 * connection), then INSTANCES registrations through `writeUrl`. `pids` are the processes whose CPU is charged.
 */
async function registerWhileWatched(writeUrl: string, watchUrl: string, pids: Record<string, number>): Promise<LoadResult & { index: number }> {
  const clients: RegistryClient[] = [];
  const watchers: Watcher[] = [];
  try {
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let connected = 0;
    await new Promise<void>((resolve, reject) => {
      for (let s = 0; s < WATCHERS; s++) {
        const client = new RegistryClient({ url: watchUrl });
        clients.push(client);
        const w = client.watch({ services: WATCH_ALL > 0 ? [] : [`svc-${String(s).padStart(3, '0')}`] });
        watchers.push(w);
        let ready = false;
        w.on('event', (e) => {
          if (!ready && e.type === 'reset') { ready = true; if (++connected === WATCHERS) resolve(); return; }
          if (e.type !== 'upsert' || (WATCH_ALL > 0 && s > 0)) return;
          const key = `${e.instance.service}/${e.instance.id}`;
          const t = sentAt.get(key);
          if (t !== undefined) { latencies.push(performance.now() - t); sentAt.delete(key); }
        });
        w.on('disconnected', (err) => { if (!ready) reject(err); });
      }
    });
    const writer = new RegistryClient({ url: writeUrl });
    clients.push(writer);
    const names = Object.keys(pids);
    const cpu0 = await Promise.all(names.map((n) => cpuMs(pids[n]!)));
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    await rawLoad({
      url: writeUrl, count: INSTANCES, lanes: IN_FLIGHT, deadlineMs: DEADLINE_MS,
      make: (n) => {
        const { service, id, ...rest } = specOf(n);
        return { method: 'PUT', path: `/v1/services/${encodeURIComponent(service)}/instances/${encodeURIComponent(id)}`, body: JSON.stringify(rest) };
      },
      onSend: (n) => { const spec = specOf(n); sentAt.set(`${spec.service}/${spec.id}`, performance.now()); },
    });
    const registerSecs = (performance.now() - t0) / 1000;
    const settleDeadline = performance.now() + 10_000;
    while (latencies.length < INSTANCES && performance.now() < settleDeadline) await new Promise((r) => setTimeout(r, 10));
    const cpu1 = await Promise.all(names.map((n) => cpuMs(pids[n]!)));
    const self = process.cpuUsage(self0);
    const cpu: Record<string, number> = {};
    names.forEach((n, i) => { cpu[n] = (cpu1[i]! - cpu0[i]!) / INSTANCES; });
    cpu['bench: load + watchers'] = (self.user + self.system) / 1000 / INSTANCES;
    if (process.env.MESH_BENCH_PROFILE_DIR) {
      for (const n of names) if (n.startsWith('daemon')) process.kill(pids[n]!, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, process.env.MESH_BENCH_HEAP_SNAPSHOT ? 15_000 : 500));
    }
    const rss: Record<string, number> = {};
    for (const n of names) if (n.startsWith('daemon')) rss[n] = await rssMiB(pids[n]!);
    const index = (await writer.status()).index;
    return { rate: INSTANCES / registerSecs, latencies: latencies.sort((a, b) => a - b), cpu, rss, index };
  } finally {
    for (const w of watchers) w.close();
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
}

interface EmbeddedExtras { baseline: number; journalOnlyMs: number; restartMs: number; replayMs: number; instancesAfter: number; journal: string }

/** One embedded round; the first also measures the baselines and a restart after kill -9 with every instance. */
async function embeddedRound(withExtras: boolean): Promise<LoadResult & { extras?: EmbeddedExtras }> {
  const dir = tempDir('mesh-bench-registry-');
  const daemons: Daemon[] = [];
  try {
    const dataDir = join(dir.path, 'data');
    const first = await startDaemon(['--data-dir', dataDir]);
    daemons.push(first.daemon);
    pin(first.daemon.child.pid!, 0);
    pin(process.pid, 1);
    const load = await registerWhileWatched(first.url, first.url, { daemon: first.daemon.child.pid! });
    if (!withExtras) return load;
    const check = new RegistryClient({ url: first.url });
    const before = await check.status();
    await check.close();
    // kill -9 (no clean close, lock left behind), then restart with every instance.
    first.daemon.child.kill('SIGKILL');
    await first.daemon.exited;
    const second = await startDaemon(['--data-dir', dataDir]);
    daemons.push(second.daemon);
    const again = new RegistryClient({ url: second.url });
    const after = await again.status();
    await again.close();
    const extras: EmbeddedExtras = {
      baseline: await rawFsyncAppendsPerSecond(dir.path),
      journalOnlyMs: await journalOnlyReplayMs(join(dir.path, 'journal-only')),
      restartMs: second.readyMs,
      replayMs: Number(after.details.replayMs),
      instancesAfter: after.instances,
      journal: `${before.details.journalRecords} records, ${fmt(Number(before.details.journalBytes) / 1048576, 2)} MiB, snapshot index ${before.details.snapshotIndex}`,
    };
    if (after.instances !== INSTANCES) throw new Error(`expected ${INSTANCES} instances after restart, found ${after.instances}`);
    return { ...load, extras };
  } finally {
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) await d.stop('SIGTERM');
    dir.cleanup();
  }
}

/** One etcd round: two fresh daemons on `etcd` under a prefix of their own. */
async function etcdRound(etcd: EtcdProcess, round: number): Promise<LoadResult & { perTxn: number }> {
  const daemons: Daemon[] = [];
  try {
    const args = ['--store', 'etcd', '--etcd-endpoints', etcd.url, '--etcd-prefix', `/bench-${round}`];
    const a = await startDaemon(args);
    daemons.push(a.daemon);
    const b = await startDaemon(args);
    daemons.push(b.daemon);
    pin(a.daemon.child.pid!, 0);
    for (const pid of [b.daemon.child.pid!, etcd.pid, process.pid]) pin(pid, 1);
    const revision0 = Number((await new RegistryClient({ url: a.url }).status()).index);
    const load = await registerWhileWatched(a.url, b.url, { 'daemon A': a.daemon.child.pid!, 'daemon B': b.daemon.child.pid!, etcd: etcd.pid });
    return { ...load, perTxn: INSTANCES / Math.max(1, load.index - revision0) };
  } finally {
    for (const d of daemons) await d.stop('SIGTERM');
  }
}

function printRound(store: string, round: number, r: LoadResult, note = ''): void {
  const cpu = Object.entries(r.cpu).map(([n, ms]) => `${n} ${fmt(ms, 3)}`).join(', ');
  const rss = Object.entries(r.rss).map(([n, mib]) => `${n} ${fmt(mib)}`).join(', ');
  console.log(`  round ${round} ${store.padEnd(8)} ${fmt(r.rate, 0).padStart(5)} reg/s   watch p50/p99 ${fmt(pct(r.latencies, 50), 1)}/${fmt(pct(r.latencies, 99), 1)} ms (${r.latencies.length} seen)   CPU ms/reg: ${cpu}   RSS MiB: ${rss}${note}`);
}

/** The summary of one store: medians over its rounds, with PASS/MISS against the targets. */
function printSummary(store: string, rounds: LoadResult[], p99Aim: number): void {
  const rate = median(rounds.map((r) => r.rate));
  const p50 = median(rounds.map((r) => pct(r.latencies, 50)));
  const p99 = median(rounds.map((r) => pct(r.latencies, 99)));
  console.log(`${store} store, median of ${rounds.length} round(s):`);
  console.log(`  registrations/s (acknowledged)             ${fmt(rate, 0)}   (aim >= ${AIM.rate}: ${verdict(rate >= AIM.rate)})`);
  console.log(`  watch latency p50 / p99 (ms)               ${fmt(p50, 1)} / ${fmt(p99, 1)}   (aim p99 <= ${p99Aim}: ${verdict(p99 <= p99Aim)})`);
  for (const name of Object.keys(rounds[0]!.cpu)) {
    const ms = median(rounds.map((r) => r.cpu[name]!));
    console.log(`  CPU ms per registration: ${name.padEnd(24)} ${fmt(ms, 3)}${name.startsWith('daemon') ? `   (${fmt(1000 / ms, 0)}/s per core)` : ''}`);
  }
  for (const name of Object.keys(rounds[0]!.rss)) {
    const mib = median(rounds.map((r) => r.rss[name]!));
    console.log(`  RSS with ${INSTANCES} instances: ${name.padEnd(18)} ${fmt(mib)} MiB   (aim <= ${AIM.rssMiB}: ${verdict(mib <= AIM.rssMiB)})`);
  }
}

async function main(): Promise<void> {
  const guard = setTimeout(() => { console.error('bench: deadline passed, aborting'); process.exit(1); }, DEADLINE_MS);
  const etcdSkip = ONLY === 'embedded' ? 'not asked for (MESH_BENCH_STORE=embedded)' : ETCD_SKIP;
  const etcd = etcdSkip ? undefined : await startEtcd();
  const embedded: LoadResult[] = [];
  const onEtcd: (LoadResult & { perTxn: number })[] = [];
  let extras: EmbeddedExtras | undefined;
  try {
    console.log(`registry bench: ${INSTANCES} instances, ${SERVICES} services, ${WATCH_ALL > 0 ? `${WATCH_ALL} SSE watchers of every service` : `${SERVICES} SSE watchers, one per service`}, ${IN_FLIGHT} PUTs in flight, one registration per request; daemons' NODE_OPTIONS ${DAEMON_NODE_OPTIONS ? `"${DAEMON_NODE_OPTIONS}"` : '(none: V8 defaults)'}; ${ROUNDS} round(s), load average ${loadavg().map((l) => fmt(l, 1)).join(' ')}${PIN ? ', daemon A pinned to CPU 0, the rest to CPU 1' : ''}`);
    for (let round = 1; round <= ROUNDS; round++) {
      if (ONLY !== 'etcd') {
        const r = await embeddedRound(round === 1);
        extras ??= r.extras;
        embedded.push(r);
        printRound('embedded', round, r);
      }
      if (etcd) {
        const r = await etcdRound(etcd, round);
        onEtcd.push(r);
        printRound('etcd', round, r, `   ${fmt(r.perTxn, 1)} registrations per etcd transaction`);
      }
    }
    console.log(`load average at the end ${loadavg().map((l) => fmt(l, 1)).join(' ')}`);
    if (embedded.length > 0) {
      printSummary('embedded', embedded, AIM.embeddedP99);
      if (extras) {
        console.log(`  baseline: fsync'd appends/s, one per record ${fmt(extras.baseline, 0)}   -> group commit is ${fmt(median(embedded.map((r) => r.rate)) / extras.baseline, 1)}x the baseline`);
        console.log(`  journal before restart                     ${extras.journal}`);
        console.log(`  restart after kill -9: time to ready (ms)  ${fmt(extras.restartMs, 0)}   (aim <= ${AIM.restartMs}: ${verdict(extras.restartMs <= AIM.restartMs)}; includes node start-up)`);
        console.log(`  restart: store replay (ms)                 ${extras.replayMs}   (${extras.instancesAfter} instances)`);
        console.log(`  replay of ${INSTANCES} journal records, no snapshot (ms) ${fmt(extras.journalOnlyMs)}   (in-process, worst case before compaction)`);
      }
    }
    if (onEtcd.length > 0) {
      printSummary(`etcd (${etcd!.url}; writes through daemon A, watchers on daemon B)`, onEtcd, AIM.etcdP99);
      console.log(`  registrations per etcd transaction         ${fmt(median(onEtcd.map((r) => r.perTxn)), 1)}`);
    } else if (ONLY !== 'embedded') {
      console.log(`etcd store: skipped: ${etcdSkip}`);
    }
  } finally {
    clearTimeout(guard);
    await etcd?.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`registry bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
