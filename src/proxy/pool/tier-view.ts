// One eligible-set view of a service pool (the whole service, or one route subset), split into priority tiers.
// Each tier keeps its own eligible endpoints and its own policy object (smooth-weight scores, rings and
// cursors are state about one set), and a share of the traffic from priority-load.ts. Rebuilt only when the
// pool says something changed; a pick costs one tier choice (skipped while a single tier takes everything)
// and the tier policy's pick.
//
// Panic: when no endpoint of any tier is eligible only because every candidate is unreachable, the view uses
// the unreachable ones anyway, as Envoy's panic threshold does. The request then fails with an honest
// "cannot connect" (502) instead of "no healthy endpoint" (503), and the first request after a restart
// succeeds without waiting for the prober.
import type { Random } from '../../core/clock.js';
import type { BalancerPolicy, PickContext } from '../balancer/policy.js';
import type { PoolEndpoint } from './endpoint.js';
import { weightOf } from '../balancer/weights.js';
import { priorityLoads } from './priority-load.js';
import { pickFromNextTier, triedAll } from './tier-fallback.js';

export type Subset = Readonly<Record<string, string>>;

/** One priority tier of a view. */
export interface Tier {
  readonly priority: number;
  eligible: PoolEndpoint[];
  readonly policy: BalancerPolicy;
  /** The pool's weightEpoch when the policy was last told its set. */
  weightEpoch: number;
  /** Share of the eligible registered weight, × 1.4, capped, in percent. */
  health: number;
  /** Share of the view's traffic this tier takes, in percent. */
  load: number;
  /** Running score of the smooth weighted choice between tiers. */
  score: number;
}

/** Whether an endpoint may take traffic, reachability aside (registry health, ejection, subset). */
export type Usable = (e: PoolEndpoint) => boolean;

export class TierView {
  version = 0;
  /** Every tier with a registered endpoint in the subset, by priority. */
  tiers: Tier[] = [];
  /** The tiers with a load above 0, by priority. */
  active: Tier[] = [];
  /** The union of the active tiers' eligible endpoints. */
  eligible: PoolEndpoint[] = [];
  /** The lowest priority taking traffic, or null when none does. */
  activeTier: number | null = null;
  /** Whether only unreachable endpoints were left, and the view uses them anyway. */
  panic = false;
  private readonly eligibleWeight: number[] = [];
  private readonly totalWeight: number[] = [];
  private readonly health: number[] = [];
  private readonly load: number[] = [];

  constructor(
    readonly subset: Subset | undefined, private readonly makePolicy: () => BalancerPolicy, private readonly usable: Usable,
  ) {}

  /** Recomputes tiers, eligible sets and loads from the pool's endpoints (sorted by key). */
  rebuild(all: readonly PoolEndpoint[], weightEpoch: number, version: number): void {
    this.version = version;
    this.panic = false;
    if (!this.fill(all, true) && this.anyUsable(all)) {
      this.panic = true;
      this.fill(all, false);
    }
    const n = this.tiers.length;
    this.eligibleWeight.length = this.totalWeight.length = n;
    for (let i = 0; i < n; i++) {
      let eligible = 0;
      for (const e of this.tiers[i]!.eligible) eligible += weightOf(e);
      this.eligibleWeight[i] = eligible;
      this.totalWeight[i] = 0;
    }
    for (const e of all) {
      if (!e.matches(this.subset)) continue;
      const i = this.indexOf(e.priority);
      this.totalWeight[i]! += weightOf(e);
    }
    priorityLoads(this.eligibleWeight, this.totalWeight, this.health, this.load);
    const active: Tier[] = [];
    const eligible: PoolEndpoint[] = [];
    for (let i = 0; i < n; i++) {
      const t = this.tiers[i]!;
      t.health = this.health[i]!;
      t.load = this.load[i]!;
      t.score = 0;
      if (t.load > 0) { active.push(t); for (const e of t.eligible) eligible.push(e); }
      if (t.weightEpoch !== weightEpoch) { t.weightEpoch = weightEpoch; t.policy.update?.(t.eligible); }
    }
    this.active = active;
    this.eligible = eligible;
    this.activeTier = active.length === 0 ? null : active[0]!.priority;
  }

  /**
   * Picks for one try. `exclude` holds keys already tried: a retry goes to another active tier's untried
   * endpoint when the chosen tier has none left, then to the lowest tier beyond the active ones that has one
   * (tier-fallback.ts), and only then back to a tried endpoint. Never called with no active tier.
   */
  pick(ctx: PickContext, exclude: ReadonlySet<string> | undefined, all: readonly PoolEndpoint[], random: Random): PoolEndpoint {
    const tier = this.active.length === 1 ? this.active[0]! : this.chooseTier();
    if (exclude !== undefined && exclude.size >= tier.eligible.length && triedAll(tier.eligible, exclude)) {
      for (const t of this.active) {
        if (t !== tier && !triedAll(t.eligible, exclude)) return t.policy.pick(t.eligible, ctx, exclude) as PoolEndpoint;
      }
      const last = this.active[this.active.length - 1]!.priority;
      const reachable = this.panic ? this.usable : (e: PoolEndpoint) => e.unreachableSince === 0 && this.usable(e);
      const next = pickFromNextTier(all, last, exclude, reachable, random);
      if (next !== undefined) return next;
    }
    return tier.policy.pick(tier.eligible, ctx, exclude) as PoolEndpoint;
  }

  /** Each eligible endpoint's chance of taking the next request: tier load × the tier policy's chance. */
  chances(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.active) {
      const inTier = t.policy.chances?.(t.eligible) ?? new Map(t.eligible.map((e) => [e.key, 1 / t.eligible.length]));
      const share = t.load / 100;
      for (const [key, p] of inTier) out.set(key, (out.get(key) ?? 0) + p * share);
    }
    return out;
  }

  /** Smooth weighted round robin over the active tiers' loads: exact shares, spread out, no randomness. */
  private chooseTier(): Tier {
    let best = this.active[0]!;
    for (const t of this.active) {
      t.score += t.load;
      if (t.score > best.score) best = t;
    }
    best.score -= 100;
    return best;
  }

  /** Sets each tier's eligible endpoints; returns whether any tier has one. */
  private fill(all: readonly PoolEndpoint[], reachableOnly: boolean): boolean {
    const next = new Map<number, PoolEndpoint[]>();
    let any = false;
    for (const e of all) {
      if (!e.matches(this.subset)) continue;
      let list = next.get(e.priority);
      if (list === undefined) next.set(e.priority, list = []);
      if (this.usable(e) && (!reachableOnly || e.unreachableSince === 0)) { list.push(e); any = true; }
    }
    const priorities = [...next.keys()].sort((a, b) => a - b);
    const old = new Map(this.tiers.map((t) => [t.priority, t]));
    this.tiers = priorities.map((p) => {
      const members = next.get(p)!;
      let t = old.get(p);
      if (t === undefined) {
        t = { priority: p, eligible: [], policy: this.makePolicy(), weightEpoch: -1, health: 0, load: 0, score: 0 };
      }
      if (!sameMembers(members, t.eligible)) { t.eligible = members; t.weightEpoch = -1; }
      return t;
    });
    return any;
  }

  private anyUsable(all: readonly PoolEndpoint[]): boolean {
    for (const e of all) if (e.matches(this.subset) && this.usable(e)) return true;
    return false;
  }

  private indexOf(priority: number): number {
    for (let i = 0; i < this.tiers.length; i++) if (this.tiers[i]!.priority === priority) return i;
    return -1;
  }
}

/** Same endpoints in the same order. */
function sameMembers(a: readonly PoolEndpoint[], b: readonly PoolEndpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
