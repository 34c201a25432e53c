// `npm run test:chaos`: the etcd store beyond one machine, under faults. A three-member etcd cluster and three
// loopback hosts (test/chaos/hosts.ts), steady bounded load from a client on every host through its local proxy
// to service `api` (six instances, four of them on the other hosts), and a steady trickle of registrations
// (service `ledger`, each acknowledged one remembered). Then the faults, one after another; after each: the
// acknowledged registrations missing on any daemon (must be 0), client requests failed during the fault and in
// the 5 s after it, how long until a registration made at recovery is on every daemon (watch convergence), and
// for the frozen host how long until its instances leave and rejoin the other proxies' tables, and TTL expiries:
// on hosts the fault left alone (must be 0: their instances heartbeated through their own live daemon all along)
// and on the host it hit (expected when its heartbeats could not land for longer than the TTL).
// The rest of what the control plane stores runs through the same faults: central config versions
// (config-ledger.ts), bootstrap tokens (token-ledger.ts) and the proxies' registry-issued certificates and the
// daemons' trust bundles (identity-watch.ts); a second table shows them per fault. The run fails (exit 1) if an
// acknowledged registration, config version or token was lost, a revocation did not hold, a single-use token was
// spent other than once, an instance falsely expired, a daemon or proxy did not converge, the daemons' trust
// bundles differ, or a certificate expired during a fault that left etcd a quorum and lasted less than a lifetime.
// Not part of `npm test` (it takes several minutes); CI may call it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { ETCD_SKIP } from '../helpers/etcd.js';
import { makePki } from '../helpers/identity.js';
import { tempDir } from '../helpers/mesh.js';
import { ConfigLedger } from './config-ledger.js';
import { startHost, type Host } from './hosts.js';
import { IdentityWatch } from './identity-watch.js';
import { TokenLedger } from './token-ledger.js';
import { SETTLE_MS, WriteLoop } from './write-loop.js';

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
  /** Config versions acknowledged / attempted while the fault lasted. */
  configDuring: string;
  configLost: number;
  configDaemonsMs: number | undefined;
  configProxiesMs: number | undefined;
  /** Token creations and revocations acknowledged / attempted while the fault lasted. */
  tokensDuring: string;
  tokensLost: number;
  tokensUnrevoked: number;
  /** Certificates issued for one single-use token asked at the three daemons at once (must be 1). */
  spentOnce: number;
  roots: string;
  renewed: number;
  renewFailed: number;
  certsExpired: number;
  /** Whether the fault left etcd a quorum and lasted less than a certificate's lifetime (then none may expire). */
  certsMustHold: boolean;
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
class Ledger extends WriteLoop {
  readonly acked = new Set<string>();

  constructor(private readonly hosts: Host[]) { super(100, 20_000); }

  protected async step(n: number): Promise<boolean> {
    const h = this.hosts[n % this.hosts.length]!;
    const id = `l-${n}`;
    try {
      await h.client.register({ service: 'ledger', id, address: `${h.ip}:${10_000 + (n % 50_000)}`, weight: 100, priority: 0, tags: {} });
      this.acked.add(id);
      return true;
    } catch {
      // Not acknowledged (daemon down, etcd without quorum): it may or may not exist; only acks are promises.
      return false;
    }
  }

  /**
   * Acknowledged registrations missing on the daemon that misses the most. The set is taken first and given
   * SETTLE_MS to reach every daemon: a registration acknowledged a moment ago may still be on its way through the
   * other daemons' watches (the writer keeps writing), which is lag, not loss.
   */
  async lost(): Promise<number> {
    const acked = [...this.acked];
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      let worst: string[] = [];
      for (const h of this.hosts) {
        const have = new Set((await h.client.service('ledger')).instances.map((i) => i.id));
        const missing = acked.filter((id) => !have.has(id));
        if (missing.length > worst.length) worst = missing;
      }
      if (worst.length === 0 || Date.now() > deadline) {
        if (worst.length > 0) console.log(`    acknowledged registrations missing: ${worst.join(' ')}`);
        return worst.length;
      }
      await sleep(200);
    }
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
  const pkiDir = tempDir('mesh-chaos-pki-');
  const hosts: Host[] = [];
  const load = new Load();
  const ledger = new Ledger(hosts);
  const configs = new ConfigLedger(hosts);
  const tokens = new TokenLedger(hosts);
  const certs = new IdentityWatch(hosts);
  const outcomes: Outcome[] = [];
  let logs: Record<string, string> = {};
  try {
    const pki = await makePki(pkiDir.path, ['issuer-1', 'issuer-2', 'issuer-3']);
    const adminToken = randomBytes(16).toString('hex');
    for (const n of [1, 2, 3]) hosts.push(await startHost(n, { etcdEndpoints: etcd.endpoints, prefix: PREFIX, adminToken, issuerDir: pki.issuers[n - 1]! }));
    const all = hosts.flatMap((h) => h.instanceIds);
    await waitUntil(async () => (await Promise.all(hosts.map((h) => eligibleIn(h, all)))).every((x) => x === true), 20_000);
    load.start(hosts);
    ledger.start();
    configs.start();
    tokens.start();
    certs.start();
    await sleep(3_000);
    console.log(`chaos run: 3 etcd members, 3 hosts (${hosts.map((h) => h.ip).join(', ')}), load, registrations, config applies and token changes running`);

    let k = 0;
    // "health: api/api-h1-2 passing -> critical (TTL expired)" for an instance whose host was never frozen is a
    // false expiry: its keep-alive heartbeated all along (through its own, live daemon).
    // Counted per daemon log (each only grows): the expiry lines each has shown since the last look.
    const counted = new Map<number, number>();
    const freshExpiries = (): { host: number; instanceHost: number; line: string }[] => hosts.flatMap((h) => {
      const found = [...h.daemonLog().matchAll(/health: api\/api-h(\d)-\d \w+ -> critical \(TTL expired\)/g)];
      const fresh = found.slice(counted.get(h.n) ?? 0);
      counted.set(h.n, found.length);
      return fresh.map((m) => ({ host: h.n, instanceHost: Number(m[1]), line: m[0] }));
    });
    const fault = async (name: string, inject: () => Promise<Partial<Outcome>>, hitHosts: number[] = [], certsMustHold = true) => {
      const t0 = Date.now();
      const failuresBefore = await certs.mark();
      console.log(`  fault: ${name} … (${new Date(t0).toISOString()})`);
      const extra = await inject();
      const t1 = Date.now();
      const convergeMs = await convergence(hosts, ++k, t1);
      const config = await configs.converge(t1);
      await sleep(Math.max(0, t1 + AFTER_WINDOW_MS - Date.now()));
      const fresh = freshExpiries();
      for (const e of fresh) console.log(`    host ${e.host} daemon: ${e.line}`);
      const falseExpiries = fresh.filter((e) => !hitHosts.includes(e.instanceHost)).length;
      const hitExpiries = fresh.length - falseExpiries;
      const tEnd = Date.now();
      const configAudit = await configs.audit();
      const tokenAudit = await tokens.audit();
      const spend = await tokens.spendOnce();
      const identity = await certs.window(t0, tEnd, failuresBefore);
      const outcome: Outcome = {
        fault: name, lost: await ledger.lost(), regsDuring: ledger.during(t0, t1), falseExpiries, hitExpiries, failedDuring: load.failures(t0, t1),
        failedAfter: load.failures(t1, t1 + AFTER_WINDOW_MS), convergeMs, ...extra,
        configDuring: configs.during(t0, t1), configLost: configAudit.lost, configDaemonsMs: config.daemonsMs, configProxiesMs: config.proxiesMs,
        tokensDuring: tokens.during(t0, t1), tokensLost: tokenAudit.lost, tokensUnrevoked: tokenAudit.unrevoked, spentOnce: spend.issued,
        roots: await certs.rootsAgree(), renewed: identity.renewed, renewFailed: identity.failed, certsExpired: identity.expired, certsMustHold,
      };
      outcomes.push(outcome);
      console.log(`    lost ${outcome.lost}, registrations acked ${outcome.regsDuring}, TTL expiries ${outcome.falseExpiries} elsewhere / ${outcome.hitExpiries} on the hit host, failed during ${outcome.failedDuring}, after ${outcome.failedAfter}, converged in ${outcome.convergeMs ?? 'never'} ms`);
      console.log(`    config: acked ${outcome.configDuring}, lost ${outcome.configLost} (${configAudit.unchecked} left the history unchecked), daemons ${outcome.configDaemonsMs ?? 'never'} ms, proxies ${outcome.configProxiesMs ?? 'never'} ms; tokens: acked ${outcome.tokensDuring}, lost ${outcome.tokensLost}, unrevoked ${outcome.tokensUnrevoked}, single-use issued ${spend.issued} (others: ${spend.refusals.join(', ')}); roots ${outcome.roots}; certificates renewed ${outcome.renewed}, renewals failed ${outcome.renewFailed}, expired ${outcome.certsExpired}`);
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
    }, [3], false);
    await fault('loss of etcd quorum (2 of 3 members stopped) for 20 s', async () => {
      const leader = await etcd.leader();
      const victims = [leader ?? etcd.members[0]!, etcd.members.find((m) => m !== leader)!];
      for (const m of victims) m.freeze();
      await sleep(20_000);
      for (const m of victims) m.thaw();
      await etcd.waitHealthy();
      return {};
    }, [], false);
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
    await configs.stop();
    await tokens.stop();
    await certs.stop();
    logs = Object.assign({}, ...hosts.map((h) => h.logs())) as Record<string, string>;
    for (const h of hosts) await h.stop().catch(() => {});
    await etcd.destroy();
    pkiDir.cleanup();
  }
  printTables(outcomes, (Date.now() - started) / 1000, { ledger, load, configs, tokens });
  if (outcomes.some((o) => o.lost > 0 || o.falseExpiries > 0 || o.convergeMs === undefined
    || o.configLost > 0 || o.configDaemonsMs === undefined || o.configProxiesMs === undefined
    || o.tokensLost > 0 || o.tokensUnrevoked > 0 || o.spentOnce !== 1 || !o.roots.startsWith('same')
    || (o.certsMustHold && o.certsExpired > 0))) {
    process.exitCode = 1;
    keepLogs(logs);
  }
}

/** A failed run leaves every process's log behind for the post-mortem. */
function keepLogs(logs: Record<string, string>): void {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-chaos-logs-'));
  for (const [name, text] of Object.entries(logs)) writeFileSync(join(dir, name), text);
  console.log(`chaos run: FAILED; the logs of every process are in ${dir}`);
}

function printTables(outcomes: Outcome[], secs: number, totals: { ledger: Ledger; load: Load; configs: ConfigLedger; tokens: TokenLedger }): void {
  const ms = (v: number | undefined) => (v === undefined ? 'never' : `${(v / 1000).toFixed(1)} s`);
  printTable([
    ['fault', 'acked regs lost', 'regs acked/tried during', 'TTL expiries: elsewhere / hit host', 'requests failed during', 'failed in 5 s after', 'watchers converged', 'frozen host out / back'],
    ...outcomes.map((o) => [o.fault, String(o.lost), o.regsDuring, `${o.falseExpiries} / ${o.hitExpiries}`, o.failedDuring, o.failedAfter, ms(o.convergeMs),
      o.leaveMs === undefined && o.rejoinMs === undefined ? '-' : `${ms(o.leaveMs)} / ${ms(o.rejoinMs)}`]),
  ]);
  printTable([
    ['fault', 'config acked/tried during', 'acked versions lost', 'config current on daemons / proxies', 'token changes acked/tried during', 'tokens lost / unrevoked', 'single-use token issued', 'trust bundle on daemons', 'cert renewals ok / failed', 'certs expired'],
    ...outcomes.map((o) => [o.fault, o.configDuring, String(o.configLost), `${ms(o.configDaemonsMs)} / ${ms(o.configProxiesMs)}`, o.tokensDuring,
      `${o.tokensLost} / ${o.tokensUnrevoked}`, `${o.spentOnce} of 3`, o.roots, `${o.renewed} / ${o.renewFailed}`, `${o.certsExpired}${o.certsMustHold ? '' : ' (allowed)'}`]),
  ]);
  const { ledger, load, configs, tokens } = totals;
  console.log(`${ledger.acked.size} of ${ledger.attempts} registrations, ${configs.acknowledged} of ${configs.attempts} config versions, ${tokens.acknowledged} of ${tokens.attempts} token changes acknowledged over the run, ${load.records.length} client requests, ${secs.toFixed(0)} s in all.`);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  console.log('');
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
  console.log('');
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
