// `npm run test:chaos`: the etcd store beyond one machine, under faults. A three-member etcd cluster and three
// loopback hosts (test/chaos/hosts.ts), steady bounded load from a client on every host through its local proxy
// to service `api` (six instances, four of them on the other hosts), and a steady trickle of registrations
// (service `ledger`, each acknowledged one remembered). Then the faults, one after another; after each: the
// acknowledged registrations missing on any daemon (must be 0), client requests failed during the fault and in
// the 5 s after it, how long until a registration made at recovery is on every daemon (watch convergence), and
// for the frozen host how long until its instances leave and rejoin the other proxies' tables, and TTL expiries:
// on hosts the fault left alone (must be 0: their instances heartbeated through their own live daemon all along)
// and on the host it hit (expected when its heartbeats could not land for longer than the TTL). One table at the end; the run fails (exit 1)
// if an acknowledged registration was lost, an instance falsely expired, or a daemon did not converge.
// Not part of `npm test` (it takes about four minutes); CI may call it.
import { Agent, request } from 'node:http';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { ETCD_SKIP } from '../helpers/etcd.js';
import { startHost, type Host } from './hosts.js';

const PREFIX = '/chaos';
const RUN_DEADLINE_MS = 9 * 60_000;
const AFTER_WINDOW_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RequestRecord { at: number; host: number; ok: boolean }
interface Outcome {
  fault: string;
  lost: number;
  /** Registrations acknowledged / attempted while the fault lasted. */
  regsDuring: string;
  /** Instances whose host and daemon the fault left alone, marked critical (TTL expired) anyway: must be 0. */
  falseExpiries: number;
  /** TTL expiries of instances on the host the fault hit (their heartbeats could not land: expected). */
  hitExpiries: number;
  failedDuring: string;
  failedAfter: string;
  convergeMs: number | undefined;
  leaveMs?: number;
  rejoinMs?: number;
}

/** One client per host: GET http://api/ through the host's own proxy, one at a time, ~12 a second. */
class Load {
  readonly records: RequestRecord[] = [];
  readonly paused = new Set<number>();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  start(hosts: Host[]): void {
    for (const h of hosts) this.loops.push(this.loop(h));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
  }

  /** Failed / total requests that started in [from, to). */
  failures(from: number, to: number): string {
    const inWindow = this.records.filter((r) => r.at >= from && r.at < to);
    return `${inWindow.filter((r) => !r.ok).length}/${inWindow.length}`;
  }

  private async loop(h: Host): Promise<void> {
    while (!this.stopped) {
      if (this.paused.has(h.n)) { await sleep(50); continue; }
      const at = Date.now();
      const ok = await this.get(h);
      // A frozen host's own client stalls with it: what it sent while frozen is not the mesh's failure to count.
      if (!this.paused.has(h.n)) this.records.push({ at, host: h.n, ok });
      await sleep(80);
    }
  }

  private get(h: Host): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ host: h.proxyUrl.host, port: h.proxyUrl.port, path: 'http://api/', headers: { host: 'api' }, agent: this.agent, timeout: 3_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
}

/** Registrations of `ledger/l-N`, every 100 ms, through the hosts' daemons in turn; remembers the acknowledged. */
class Ledger {
  readonly acked = new Set<string>();
  attempts = 0;
  /** [time, acknowledged] of every attempt. */
  readonly log: [number, boolean][] = [];
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly hosts: Host[]) {}

  start(): void {
    this.running = (async () => {
      for (let n = 0; !this.stopped && n < 20_000; n++) {
        const h = this.hosts[n % this.hosts.length]!;
        const id = `l-${n}`;
        this.attempts++;
        try {
          await h.client.register({ service: 'ledger', id, address: `${h.ip}:${10_000 + (n % 50_000)}`, weight: 100, priority: 0, tags: {} });
          this.acked.add(id);
          this.log.push([Date.now(), true]);
        } catch {
          // Not acknowledged (daemon down, etcd without quorum): it may or may not exist; only acks are promises.
          this.log.push([Date.now(), false]);
        }
        await sleep(100);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  during(from: number, to: number): string {
    const w = this.log.filter(([at]) => at >= from && at < to);
    return `${w.filter(([, ok]) => ok).length}/${w.length}`;
  }

  /** Acknowledged registrations missing on the daemon that misses the most. */
  async lost(): Promise<number> {
    let worst = 0;
    for (const h of this.hosts) {
      const have = new Set((await h.client.service('ledger')).instances.map((i) => i.id));
      worst = Math.max(worst, [...this.acked].filter((id) => !have.has(id)).length);
    }
    return worst;
  }
}

/** A registration made at recovery (retried until acknowledged): ms until every daemon lists it. */
async function convergence(hosts: Host[], k: number, from: number): Promise<number | undefined> {
  const id = `marker-${k}`;
  const deadline = Date.now() + 60_000;
  for (let i = 0; ; i++) {
    try {
      await hosts[i % hosts.length]!.client.register({ service: 'ledger', id, address: '127.0.0.1:1', weight: 100, priority: 0, tags: {} });
      break;
    } catch {
      if (Date.now() > deadline) return undefined;
      await sleep(100);
    }
  }
  for (;;) {
    const seen = await Promise.all(hosts.map((h) => h.client.service('ledger').then((s) => s.instances.some((x) => x.id === id), () => false)));
    if (seen.every(Boolean)) return Date.now() - from;
    if (Date.now() > deadline) return undefined;
    await sleep(20);
  }
}

/** Whether `ids` are eligible (true) or all out (false) in the proxy's table of `api`. */
async function eligibleIn(h: Host, ids: string[]): Promise<boolean | undefined> {
  try {
    const res = await fetch(`${h.adminUrl}/routes`, { signal: AbortSignal.timeout(1_000) });
    const routes = (await res.json()) as RoutesSnapshot;
    const eps = routes.services.find((s) => s.service === 'api')?.endpoints ?? [];
    const states = ids.map((id) => eps.find((e) => e.id === id)?.eligible ?? false);
    if (states.every(Boolean)) return true;
    if (states.every((s) => !s)) return false;
    return undefined;
  } catch {
    return undefined;
  }
}

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(100);
  }
  return false;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) { try { process.kill(pid, sig); } catch { /* already gone */ } }
}

async function main(): Promise<void> {
  if (ETCD_SKIP) { console.log(`chaos run: skipped: ${ETCD_SKIP}`); return; }
  const guard = setTimeout(() => { console.error('chaos run: deadline passed, aborting'); process.exit(1); }, RUN_DEADLINE_MS);
  const started = Date.now();
  const etcd: EtcdCluster = await startEtcdCluster(3);
  const hosts: Host[] = [];
  const load = new Load();
  const ledger = new Ledger(hosts);
  const outcomes: Outcome[] = [];
  try {
    for (const n of [1, 2, 3]) hosts.push(await startHost(n, etcd.endpoints, PREFIX));
    const all = hosts.flatMap((h) => h.instanceIds);
    await waitUntil(async () => (await Promise.all(hosts.map((h) => eligibleIn(h, all)))).every((x) => x === true), 20_000);
    load.start(hosts);
    ledger.start();
    await sleep(3_000);
    console.log(`chaos run: 3 etcd members, 3 hosts (${hosts.map((h) => h.ip).join(', ')}), load and registrations running`);

    let k = 0;
    // "health: api/api-h1-2 passing -> critical (TTL expired)" for an instance whose host was never frozen is a
    // false expiry: its keep-alive heartbeated all along (through its own, live daemon).
    const expiries = () => hosts.flatMap((h) => [...h.daemonLog().matchAll(/health: api\/api-h(\d)-\d \w+ -> critical \(TTL expired\)/g)].map((m) => Number(m[1])));
    let expiriesBefore = 0;
    const fault = async (name: string, inject: () => Promise<Partial<Outcome>>, hitHosts: number[] = []) => {
      const t0 = Date.now();
      console.log(`  fault: ${name} …`);
      const extra = await inject();
      const t1 = Date.now();
      const convergeMs = await convergence(hosts, ++k, t1);
      await sleep(Math.max(0, t1 + AFTER_WINDOW_MS - Date.now()));
      const now = expiries();
      const fresh = now.slice(expiriesBefore);
      const falseExpiries = fresh.filter((n) => !hitHosts.includes(n)).length;
      const hitExpiries = fresh.length - falseExpiries;
      expiriesBefore = now.length;
      const outcome: Outcome = {
        fault: name, lost: await ledger.lost(), regsDuring: ledger.during(t0, t1), falseExpiries, hitExpiries, failedDuring: load.failures(t0, t1),
        failedAfter: load.failures(t1, t1 + AFTER_WINDOW_MS), convergeMs, ...extra,
      };
      outcomes.push(outcome);
      console.log(`    lost ${outcome.lost}, registrations acked ${outcome.regsDuring}, TTL expiries ${outcome.falseExpiries} elsewhere / ${outcome.hitExpiries} on the hit host, failed during ${outcome.failedDuring}, after ${outcome.failedAfter}, converged in ${outcome.convergeMs ?? 'never'} ms`);
    };

    await fault('kill -9 of the etcd leader (restarted after 5 s)', async () => {
      const leader = await etcd.leader();
      if (!leader) throw new Error('no etcd leader');
      await leader.kill();
      await sleep(5_000);
      leader.start();
      await etcd.waitHealthy();
      return {};
    });
    await fault('SIGSTOP of the etcd leader for 20 s', async () => {
      const leader = await etcd.leader();
      if (!leader) throw new Error('no etcd leader');
      leader.freeze();
      await sleep(20_000);
      leader.thaw();
      await etcd.waitHealthy();
      return {};
    });
    await fault('kill -9 of host 2\'s registry daemon, restarted', async () => {
      await hosts[1]!.daemon.stop('SIGKILL');
      await hosts[1]!.startDaemon();
      return {};
    }, [2]);
    await fault('SIGSTOP of host 3 (daemon, proxy, instances) for 30 s', async () => {
      const frozen = hosts[2]!;
      const others = hosts.filter((h) => h !== frozen);
      load.paused.add(frozen.n);
      const stoppedAt = Date.now();
      signal(frozen.pids(), 'SIGSTOP');
      const left = await waitUntil(async () => (await Promise.all(others.map((h) => eligibleIn(h, frozen.instanceIds)))).every((x) => x === false), 30_000);
      const leaveMs = left ? Date.now() - stoppedAt : undefined;
      await sleep(Math.max(0, stoppedAt + 30_000 - Date.now()));
      const contAt = Date.now();
      signal(frozen.pids(), 'SIGCONT');
      const back = await waitUntil(async () => (await Promise.all(others.map((h) => eligibleIn(h, frozen.instanceIds)))).every((x) => x === true), 30_000);
      const rejoinMs = back ? Date.now() - contAt : undefined;
      load.paused.delete(frozen.n);
      return { leaveMs, rejoinMs };
    }, [3]);
    await fault('loss of etcd quorum (2 of 3 members stopped) for 20 s', async () => {
      const leader = await etcd.leader();
      const victims = [leader ?? etcd.members[0]!, etcd.members.find((m) => m !== leader)!];
      for (const m of victims) m.freeze();
      await sleep(20_000);
      for (const m of victims) m.thaw();
      await etcd.waitHealthy();
      return {};
    });
    await fault('rolling restart of the three registry daemons', async () => {
      for (const h of hosts) {
        await h.daemon.stop('SIGTERM');
        await h.startDaemon();
        await sleep(2_000);
      }
      return {};
    }, [1, 2, 3]);
  } finally {
    clearTimeout(guard);
    await load.stop();
    await ledger.stop();
    for (const h of hosts) await h.stop().catch(() => {});
    await etcd.destroy();
  }
  printTable(outcomes, ledger, load, (Date.now() - started) / 1000);
  if (outcomes.some((o) => o.lost > 0 || o.falseExpiries > 0 || o.convergeMs === undefined)) process.exitCode = 1;
}

function printTable(outcomes: Outcome[], ledger: Ledger, load: Load, secs: number): void {
  const ms = (v: number | undefined) => (v === undefined ? 'never' : `${(v / 1000).toFixed(1)} s`);
  const rows = [
    ['fault', 'acked regs lost', 'regs acked/tried during', 'TTL expiries: elsewhere / hit host', 'requests failed during', 'failed in 5 s after', 'watchers converged', 'frozen host out / back'],
    ...outcomes.map((o) => [o.fault, String(o.lost), o.regsDuring, `${o.falseExpiries} / ${o.hitExpiries}`, o.failedDuring, o.failedAfter, ms(o.convergeMs),
      o.leaveMs === undefined && o.rejoinMs === undefined ? '-' : `${ms(o.leaveMs)} / ${ms(o.rejoinMs)}`]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  console.log('');
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
  console.log('');
  console.log(`${ledger.acked.size} of ${ledger.attempts} registrations acknowledged over the run, ${load.records.length} client requests, ${secs.toFixed(0)} s in all.`);
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
