// The central config under the chaos run: a new version applied every 2 s through the hosts' daemons
// in turn (admin token), each one both a proxy setting every proxy must apply (api's timeout, kept at 15 s or
// more so the routing the catalogue columns measure is unchanged) and an authz policy every sidecar must enforce
// (GET from api allowed, so the load keeps passing). Every acknowledged version is remembered with the label it
// was written with; after each fault the run checks that each is in every daemon's history, and how long a
// version applied at recovery takes to be the current one on every daemon and in every proxy.
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { HISTORY_LIMIT } from '../../src/registry/config/history.js';
import type { Host } from './hosts.js';
import { SETTLE_MS, WriteLoop } from './write-loop.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APPLY_EVERY_MS = 2_000;

function documentFor(label: string, n: number) {
  return {
    proxy: { services: { api: { timeout: `${15_000 + (n % 1_000)}ms` } } },
    authz: { services: { api: { allow: [{ name: label, from: 'api', methods: ['GET'] }] } } },
  };
}

export interface ConfigAudit {
  /** Acknowledged versions missing from (or different in) some daemon's history: must be 0. */
  lost: number;
  /** Acknowledged versions that left the kept window (HISTORY_LIMIT) before the run could check them. */
  unchecked: number;
}

export interface ConfigConvergence {
  /** ms from recovery until a version applied then is the current one on every daemon (undefined: never). */
  daemonsMs: number | undefined;
  /** ms until every proxy runs it (its admin /routes shows it). */
  proxiesMs: number | undefined;
}

export class ConfigLedger extends WriteLoop {
  /** version → the label it was applied with (`chaos-<n>`), for versions not yet seen on every daemon. */
  private readonly pending = new Map<number, { label: string; seenOn: Set<number> }>();
  private readonly missing = new Set<number>();
  private uncheckedCount = 0;
  /** The version the last acknowledged apply made. */
  private lastVersion: number | undefined;
  private markers = 0;

  constructor(private readonly hosts: Host[]) { super(APPLY_EVERY_MS, 5_000); }

  /**
   * Checks the acknowledged versions not yet seen on every daemon against each daemon's history, giving them
   * SETTLE_MS to arrive (one acknowledged a moment ago may still be on its way through the watches).
   */
  async audit(): Promise<ConfigAudit> {
    const due = [...this.pending.keys()];
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      for (const h of this.hosts) await this.check(h, due);
      const missing = due.filter((v) => this.pending.has(v) && this.pending.get(v)!.seenOn.size < this.hosts.length);
      if (missing.length === 0 || Date.now() > deadline) {
        for (const v of missing) this.missing.add(v);
        if (missing.length > 0) console.log(`    acknowledged config versions missing: ${missing.join(' ')}`);
        return { lost: this.missing.size, unchecked: this.uncheckedCount };
      }
      await sleep(200);
    }
  }

  /** Marks the versions of `due` that `h`'s history holds with the label they were applied with. */
  private async check(h: Host, due: number[]): Promise<void> {
    let rows: { version: number; change: string }[];
    try {
      rows = (await h.client.configHistory()).versions;
    } catch {
      return; // a daemon that does not answer leaves its versions unseen
    }
    const byVersion = new Map(rows.map((r) => [r.version, r.change]));
    const oldest = Math.min(...rows.map((r) => r.version));
    for (const version of due) {
      const p = this.pending.get(version);
      if (p === undefined) continue;
      if (byVersion.get(version)?.endsWith(`: ${p.label}`)) p.seenOn.add(h.n);
      else if (rows.length >= HISTORY_LIMIT && version < oldest) { this.pending.delete(version); this.uncheckedCount++; }
      if (p.seenOn.size === this.hosts.length) this.pending.delete(version);
    }
  }

  /**
   * With the writer quiet: applies one version (retried until acknowledged) and waits until it is the current
   * version on every daemon and the version every proxy runs.
   */
  converge(from: number, timeoutMs = 60_000): Promise<ConfigConvergence> {
    return this.quiet(async () => {
      const deadline = Date.now() + timeoutMs;
      let version: number | undefined;
      for (let i = 0; version === undefined && Date.now() < deadline; i++) {
        if (await this.write(1_000_000 + this.markers++)) version = this.lastVersion;
        else await sleep(100);
      }
      if (version === undefined) return { daemonsMs: undefined, proxiesMs: undefined };
      const daemonsMs = await until(async () => (await Promise.all(this.hosts.map((h) => h.client.config().then((c) => c.version, () => -1)))).every((v) => v === version), deadline, from);
      const proxiesMs = await until(async () => (await Promise.all(this.hosts.map((h) => proxyConfigVersion(h)))).every((v) => v === version), deadline, from);
      return { daemonsMs, proxiesMs };
    });
  }

  /** One apply through the hosts' daemons in turn; remembers the version it made when acknowledged. */
  protected async step(n: number): Promise<boolean> {
    const label = `chaos-${n}`;
    try {
      const r = await this.hosts[n % this.hosts.length]!.client.applyConfig(documentFor(label, n), { change: label });
      this.pending.set(r.version, { label, seenOn: new Set() });
      this.lastVersion = r.version;
      return true;
    } catch {
      // Not acknowledged (daemon down, etcd without quorum): it may or may not have been written.
      return false;
    }
  }
}

async function proxyConfigVersion(h: Host): Promise<number> {
  try {
    const res = await fetch(`${h.adminUrl}/routes`, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as RoutesSnapshot).config?.version ?? 0;
  } catch {
    return -1;
  }
}

/** ms from `from` until `fn` holds (polled every 20 ms), undefined at the deadline. */
async function until(fn: () => Promise<boolean>, deadline: number, from: number): Promise<number | undefined> {
  for (;;) {
    if (await fn()) return Date.now() - from;
    if (Date.now() > deadline) return undefined;
    await sleep(20);
  }
}
