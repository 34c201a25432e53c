// The registry's health monitor: expires TTL instances that stop heartbeating, runs active HTTP/TCP checks, and
// removes instances that stay critical longer than their deregister-after. It talks only to the RegistryStore
// interface and follows the store's events, so it works the same over the embedded and the etcd store.
//
// Heartbeats are not events (they are not journaled), so TTLs are evaluated lazily: a per-instance timer fires
// at the earliest moment the instance could have expired and re-reads its lastHeartbeat from the store.
import type { Agent } from 'undici';
import { systemClock, type Clock } from '../../core/clock.js';
import { DEFAULTS, type HealthCheckSpec, type Instance } from '../../core/types.js';
import { httpProbe, newProbeAgent, tcpProbe, type ProbeResult } from './health-probes.js';
import { ByService } from './by-service.js';
import { hasActiveCheck, sameCheck } from './instance-spec.js';
import type { RegistryStore, StoreEvent } from '../store/store.js';

export interface HealthMonitorOptions {
  store: RegistryStore;
  clock?: Clock;
  log?: (line: string) => void;
  /**
   * After a daemon restart, count TTLs and deregister-after from the monitor's start rather than from the times
   * stored before the restart, so a registry that was down does not expire everything at once (default true).
   */
  ttlGraceOnStart?: boolean;
  /** The store expires TTL instances itself (etcd leases), so the monitor must not. */
  ttlByStore?: boolean;
  /**
   * Whether this daemon runs the active checks (and deregister-after removals) of a service. Stores shared by
   * several daemons (etcd) give one daemon per service; by default this daemon checks everything.
   */
  shouldCheck?: (service: string) => boolean;
  /** See HealthPolicy.expiryFloor: deadlines never count from before this (wall-clock ms). */
  expiryFloor?: () => number;
  /** See HealthPolicy.ttlSlackMs. */
  ttlSlackMs?: (inst: Instance) => number;
}

interface Tracked {
  service: string;
  id: string;
  /** The check spec this entry was armed for: a changed check restarts the probe loop. */
  check: HealthCheckSpec | undefined;
  deadline?: NodeJS.Timeout;
  probe?: NodeJS.Timeout;
  probing: boolean;
  removing: boolean;
}


/** Node's timers take at most 2^31-1 ms. */
const MAX_DELAY = 2 ** 31 - 1;
const RETRY_MS = 5_000;

export class HealthMonitor {
  private readonly store: RegistryStore;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly grace: boolean;
  private readonly ttlByStore: boolean;
  private readonly shouldCheck: (service: string) => boolean;
  private readonly expiryFloor: () => number;
  private readonly ttlSlackMs: (inst: Instance) => number;
  /** By service, then id: no "service/id" key string per entry or per event (by-service.ts). */
  private readonly tracked = new ByService<Tracked>();
  /** Timer callbacks take the entry as an argument: no closure per armed timer. */
  private readonly onDeadline = (t: Tracked): void => { void this.evaluate(t); };
  private readonly pending = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  /** Made at the first HTTP check (see newProbeAgent). */
  private agent: Promise<Agent> | undefined;
  private unsubscribe: (() => void) | undefined;
  private startedAt = 0;

  constructor(opts: HealthMonitorOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.grace = opts.ttlGraceOnStart ?? true;
    this.ttlByStore = opts.ttlByStore ?? false;
    this.shouldCheck = opts.shouldCheck ?? (() => true);
    this.expiryFloor = opts.expiryFloor ?? (() => 0);
    this.ttlSlackMs = opts.ttlSlackMs ?? (() => 0);
  }

  start(): void {
    if (this.unsubscribe) return;
    this.startedAt = this.clock.now();
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
    for (const inst of this.store.list()) this.track(inst);
  }

  /** Stops timers and in-flight probes, then waits for the store writes already under way. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.abort.abort();
    for (const t of this.tracked.values()) this.untrack(t);
    this.tracked.clear();
    await Promise.allSettled([...this.pending]);
    await this.agent?.then((a) => a.close()).catch(() => {});
  }

  /** Evaluates every TTL and deregister-after deadline now (the timers call this per instance; tests call it). */
  async tick(): Promise<void> {
    await Promise.all([...this.tracked.values()].map((t) => this.evaluate(t)));
  }

  private onEvent(event: StoreEvent): void {
    if (event.type === 'remove') {
      const t = this.tracked.get(event.service, event.id);
      if (t) { this.untrack(t); this.tracked.delete(event.service, event.id); }
      return;
    }
    this.track(event.instance);
  }

  private track(inst: Instance): void {
    let t = this.tracked.get(inst.service, inst.id);
    if (t && t.check !== inst.check) {
      if (sameCheck(t.check, inst.check)) t.check = inst.check; // an equal copy (a heartbeat's write): keep one
      else { this.untrack(t); t = undefined; }
    }
    if (!t) {
      t = { service: inst.service, id: inst.id, check: inst.check, probing: false, removing: false };
      this.tracked.set(t.service, t);
      if (hasActiveCheck(inst.check)) this.scheduleProbe(t, 0);
    }
    this.armDeadline(t, inst);
  }

  private untrack(t: Tracked): void {
    clearTimeout(t.deadline);
    clearTimeout(t.probe);
    t.deadline = t.probe = undefined;
    t.removing = true;
  }

  /** The earliest time something can happen to this instance without a store event: TTL expiry or removal. */
  private nextDeadline(inst: Instance): number | undefined {
    const floor = Math.max(this.grace ? this.startedAt : 0, this.expiryFloor());
    if (inst.health === 'critical') {
      const after = inst.check?.deregisterAfterMs ?? DEFAULTS.deregisterAfterMs;
      return Math.max(inst.criticalSince ?? this.startedAt, floor) + after;
    }
    if (inst.check?.ttlMs !== undefined && !hasActiveCheck(inst.check) && !this.ttlByStore) {
      return Math.max(inst.lastHeartbeat ?? inst.registeredAt, floor) + inst.check.ttlMs + this.ttlSlackMs(inst);
    }
    return undefined;
  }

  private armDeadline(t: Tracked, inst: Instance): void {
    clearTimeout(t.deadline);
    t.deadline = undefined;
    const at = this.nextDeadline(inst);
    if (at === undefined || t.removing) return;
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_DELAY);
    t.deadline = setTimeout(this.onDeadline, delay, t);
    t.deadline.unref();
  }

  private async evaluate(t: Tracked): Promise<void> {
    const inst = this.store.get(t.service, t.id);
    if (!inst || t.removing) return;
    const at = this.nextDeadline(inst);
    if (at === undefined) return;
    if (this.clock.now() < at) { this.armDeadline(t, inst); return; }
    if (!this.shouldCheck(inst.service)) {
      // Another daemon owns this service's expiries and removals; look again later in case ownership moves here.
      t.deadline = setTimeout(this.onDeadline, RETRY_MS, t);
      t.deadline.unref();
      return;
    }
    // The decision was taken on this daemon's copy, which may be stale (a daemon just woken from a freeze runs its
    // timers before its watch delivers what changed meanwhile): the store asks again on the state it replaces.
    const stillDue = (current: Instance) => {
      const due = this.nextDeadline(current);
      return due !== undefined && this.clock.now() >= due && (current.health === 'critical') === (inst.health === 'critical');
    };
    if (inst.health === 'critical') {
      t.removing = true;
      this.untrack(t);
      this.log(`health: removing ${inst.service}/${inst.id}: critical for longer than deregister-after (${inst.healthOutput ?? 'no output'})`);
      const removed = await this.write(this.store.remove(inst.service, inst.id, 'critical for longer than deregister-after', stillDue));
      if (!removed && this.unsubscribe && this.store.get(inst.service, inst.id)) {
        // The write failed (store read-only) or was vetoed (the instance recovered): keep tracking.
        t.removing = false;
        const now = this.store.get(inst.service, inst.id)!;
        if (removed === undefined) {
          t.deadline = setTimeout(this.onDeadline, RETRY_MS, t);
          t.deadline.unref();
        } else {
          this.armDeadline(t, now);
        }
      }
      return;
    }
    const updated = await this.write(this.store.setHealth(inst.service, inst.id, 'critical', 'TTL expired', stillDue));
    if (updated?.health === 'critical') this.log(`health: ${inst.service}/${inst.id} ${inst.health} -> critical (TTL expired)`);
    // The upsert event re-arms the deadline; if the write failed or was vetoed, look again at the next deadline.
    if (!t.removing) {
      const now = this.store.get(inst.service, inst.id);
      if (!updated) this.armDeadline(t, { ...inst, lastHeartbeat: this.clock.now() });
      else if (now && now.health !== 'critical') this.armDeadline(t, now);
    }
  }

  private scheduleProbe(t: Tracked, delay: number): void {
    if (t.removing) return;
    t.probe = setTimeout(() => { void this.runProbe(t); }, Math.min(delay, MAX_DELAY));
    t.probe.unref();
  }

  /** One probe at a time per instance: the next is scheduled only after this one has finished. */
  private async runProbe(t: Tracked): Promise<void> {
    const inst = this.store.get(t.service, t.id);
    if (!inst || t.removing || t.probing || !inst.check || !this.unsubscribe) return;
    if (!this.shouldCheck(inst.service)) {
      // Not this daemon's service to check (now): keep the loop ticking so it picks up if ownership moves here.
      this.scheduleProbe(t, inst.check.intervalMs ?? DEFAULTS.checkIntervalMs);
      return;
    }
    t.probing = true;
    const timeoutMs = inst.check.timeoutMs ?? DEFAULTS.checkTimeoutMs;
    let result: ProbeResult;
    try {
      const probe = inst.check.http
        ? (this.agent ??= newProbeAgent()).then((agent) => httpProbe(inst.check!.http!, timeoutMs, agent, this.abort.signal))
        : tcpProbe(inst.check.tcp!, timeoutMs, this.abort.signal);
      this.pending.add(probe);
      result = await probe.finally(() => this.pending.delete(probe));
    } finally {
      t.probing = false;
    }
    if (t.removing || this.tracked.get(t.service, t.id) !== t) return;
    const current = this.store.get(t.service, t.id);
    if (current && current.health !== result.health) {
      this.log(`health: ${t.service}/${t.id} ${current.health} -> ${result.health} (${result.output})`);
    }
    await this.write(this.store.setHealth(t.service, t.id, result.health, result.output));
    this.scheduleProbe(t, inst.check.intervalMs ?? DEFAULTS.checkIntervalMs);
  }

  /** Store writes can fail (read-only store, full disk); the monitor logs and carries on. */
  private async write<T>(op: Promise<T>): Promise<T | undefined> {
    this.pending.add(op);
    try {
      return await op;
    } catch (err) {
      this.log(`health: cannot record a health change: ${(err as Error).message}`);
      return undefined;
    } finally {
      this.pending.delete(op);
    }
  }
}
