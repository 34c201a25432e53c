// One service's endpoints: which of them may take traffic now (registry health, outlier ejection, priority
// tier, route subset) and which one takes the next request (the policy's job). Pools keep books; policies
// pick. Eligible sets are recomputed only when something changed (a registry update, an ejection or a
// return), never per request, and a policy is told (update()) only when its set really differs.
import type { Clock, Random } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { Instance } from '../core/types.js';
import { createPolicy, DEFAULT_POLICY, type PolicyOptions } from './balancer/index.js';
import { PeakEwmaPolicy } from './balancer/peak-ewma.js';
import type { BalancerPolicy, PickContext, PolicyName } from './balancer/policy.js';
import { OutlierDetector, type EjectionEvent, type OutlierOptions } from './outlier.js';
import { PoolEndpoint } from './pool-endpoint.js';
import { snapshotPool, type SnapshotOptions } from './pool-snapshot.js';
import { pickFromNextTier, triedAll } from './tier-fallback.js';

export type { PoolEndpoint } from './pool-endpoint.js';

/** Per-service settings (from the config file; every field has a default). */
export interface ServiceSettings {
  /** Load-balancing policy (default round-robin). */
  policy?: PolicyName;
  policyOptions?: PolicyOptions;
  /** Whether `warning` instances take traffic (default true; `critical` never does). */
  includeWarning?: boolean;
  outlier?: OutlierOptions;
}

export interface PoolDeps {
  clock: Clock;
  random: Random;
  /** Told of every ejection and return (for metrics and logs). */
  onEjection?: (event: EjectionEvent) => void;
}

/** Why a pick found nothing. Constant strings, so a failed pick allocates nothing. */
export type PickFailure = 'no-such-service' | 'no-healthy-endpoint';

export const PICK_FAILURE_CODES: Readonly<Record<PickFailure, ErrorCode>> = {
  'no-such-service': 'MESH_ERR_NO_SUCH_SERVICE',
  'no-healthy-endpoint': 'MESH_ERR_NO_HEALTHY_ENDPOINT',
};

/** How a request to an endpoint ended, for outlier detection and latency-aware policies. */
export type RequestOutcome = 'success' | 'failure' | 'aborted';

export type Subset = Readonly<Record<string, string>>;

/** The eligible set for the whole service or one subset, with its own policy state. */
interface View {
  readonly subset: Subset | undefined;
  eligible: PoolEndpoint[];
  activeTier: number | null;
  policy: BalancerPolicy;
  version: number;
  /** The pool's weightEpoch when the policy was last updated: a weight change must reach stateful policies. */
  weightEpoch: number;
}

export class ServicePool {
  readonly service: string;
  private all: PoolEndpoint[] = [];
  private readonly byId = new Map<string, PoolEndpoint>();
  private settings: Required<Omit<ServiceSettings, 'outlier'>> & { outlier: OutlierOptions };
  private outlier: OutlierDetector;
  private main: View;
  private subsets = new WeakMap<Subset, View>();
  /** Bumped by every change that can alter an eligible set; views compare it to theirs. */
  private version = 1;
  /** Bumped when an endpoint's weight changes (same members, but policies must rebuild). */
  private weightEpoch = 0;
  private nextReturnAt = Infinity;
  /** Endpoints healthy by the registry (the population the ejection cap is a share of). */
  private healthyCount = 0;

  constructor(service: string, private readonly deps: PoolDeps, settings: ServiceSettings = {}) {
    this.service = service;
    this.settings = resolve(settings);
    this.outlier = new OutlierDetector(service, deps.clock, this.settings.outlier, deps.onEjection);
    this.main = this.newView(undefined);
  }

  get policyName(): PolicyName { return this.settings.policy; }
  get includeWarning(): boolean { return this.settings.includeWarning; }
  /** Registered endpoints (any health). */
  get size(): number { return this.all.length; }
  /** Registered endpoints, sorted by key. */
  endpoints(): readonly PoolEndpoint[] { return this.all; }
  endpoint(id: string): PoolEndpoint | undefined { return this.byId.get(id); }

  /** Applies new settings; policies are re-created only when the policy or its options changed. */
  configure(settings: ServiceSettings): void {
    const next = resolve(settings);
    const policyChanged = next.policy !== this.settings.policy || JSON.stringify(next.policyOptions) !== JSON.stringify(this.settings.policyOptions);
    if (JSON.stringify(next.outlier) !== JSON.stringify(this.settings.outlier)) {
      // Ejections in force finish on their own clock; the new thresholds apply to failures from now on.
      const fresh = new OutlierDetector(this.service, this.deps.clock, next.outlier, this.deps.onEjection);
      for (const e of this.all) if (e.ejectedUntil !== 0) fresh.adopt(e);
      this.outlier = fresh;
    }
    this.settings = next;
    if (policyChanged) {
      this.main = this.newView(undefined);
      this.subsets = new WeakMap();
    }
    this.changed();
  }

  upsert(instance: Instance): void {
    const existing = this.byId.get(instance.id);
    if (existing !== undefined) {
      const weight = existing.weight;
      const health = existing.health;
      if (existing.refresh(instance)) {
        if (existing.weight !== weight) this.weightEpoch++;
        // An active check passing again is fresher news than the failures that ejected it (Envoy does the same).
        if (health !== 'passing' && existing.health === 'passing') this.outlier.reinstate(existing);
        this.changed();
      }
      return;
    }
    const e = new PoolEndpoint(instance);
    this.byId.set(instance.id, e);
    this.all.push(e);
    this.all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.changed();
  }

  remove(id: string): void {
    const e = this.byId.get(id);
    if (e === undefined) return;
    this.byId.delete(id);
    this.all = this.all.filter((x) => x !== e);
    this.outlier.forget(e);
    e.removed = true;
    this.changed();
  }

  /**
   * Picks the endpoint for the next try. `exclude` holds keys already tried (a retry goes elsewhere when it
   * can); `subset` restricts to endpoints carrying those tags — pass the same object each time (the route's
   * config object): its eligible set and policy state are cached by identity. A retry that has tried the
   * whole active tier goes to the next tier with an untried endpoint (see tier-fallback.ts).
   */
  pick(ctx: PickContext, exclude?: ReadonlySet<string>, subset?: Subset): PoolEndpoint | PickFailure {
    if (this.all.length === 0) return 'no-such-service';
    const view = this.current(subset);
    if (view.eligible.length === 0) return 'no-healthy-endpoint';
    if (exclude !== undefined && exclude.size >= view.eligible.length && triedAll(view.eligible, exclude)) {
      const next = pickFromNextTier(this.all, view.activeTier!, exclude, (e) => this.usable(e, view.subset), this.deps.random);
      if (next !== undefined) return next;
    }
    return view.policy.pick(view.eligible, ctx, exclude) as PoolEndpoint;
  }

  /** Call when a request starts on `endpoint`. */
  begin(endpoint: PoolEndpoint): void {
    endpoint.inFlight++;
    endpoint.requests++;
  }

  /** Call when it ends: feeds the latency to the policy and the outcome to outlier detection. */
  finish(endpoint: PoolEndpoint, latencyMs: number, outcome: RequestOutcome): void {
    if (endpoint.inFlight > 0) endpoint.inFlight--;
    if (outcome === 'aborted' || endpoint.removed) return; // the client left: says nothing about the endpoint
    this.main.policy.observe?.(endpoint, latencyMs, outcome === 'success');
    if (outcome === 'success') { this.outlier.success(endpoint); return; }
    if (this.outlier.failure(endpoint, this.healthyCount)) {
      if (endpoint.ejectedUntil < this.nextReturnAt) this.nextReturnAt = endpoint.ejectedUntil;
      this.version++;
    }
  }

  /** The tier taking traffic now (lowest priority number with an eligible endpoint), or null. */
  activeTier(subset?: Subset): number | null { return this.current(subset).activeTier; }

  /** The endpoints that may be picked now. */
  eligible(subset?: Subset): readonly PoolEndpoint[] { return this.current(subset).eligible; }

  /** Each eligible endpoint's chance of taking the next request (for `mesh routes explain`). */
  chances(subset?: Subset): Map<string, number> {
    const view = this.current(subset);
    if (view.eligible.length === 0) return new Map();
    if (view.policy.chances !== undefined) return view.policy.chances(view.eligible);
    return new Map(view.eligible.map((e) => [e.key, 1 / view.eligible.length]));
  }

  /** Whether an endpoint may take traffic in some tier: registry-healthy, not ejected, in the subset. */
  private usable(e: PoolEndpoint, subset: Subset | undefined): boolean {
    return e.ejectedUntil === 0 && this.healthy(e) && e.matches(subset);
  }

  /** Whether an endpoint passes the registry-health filter. */
  healthy(e: PoolEndpoint): boolean {
    return e.health === 'passing' || (e.health === 'warning' && this.settings.includeWarning);
  }

  /** The admin view of this service (GET /routes). */
  snapshot(options: SnapshotOptions = {}): ReturnType<typeof snapshotPool> {
    const view = this.current(undefined);
    const policy = view.policy;
    const cost = policy instanceof PeakEwmaPolicy ? (e: PoolEndpoint) => policy.estimate(e) * (e.inFlight + 1) : undefined;
    return snapshotPool(this, view.eligible, view.activeTier, this.deps.clock, options, cost);
  }

  private current(subset: Subset | undefined): View {
    if (this.nextReturnAt !== Infinity && this.deps.clock.monotonic() >= this.nextReturnAt) {
      this.outlier.expire(this.all);
      this.nextReturnAt = this.outlier.nextReturn(this.all);
      this.version++;
    }
    let view = this.main;
    if (subset !== undefined) {
      const cached = this.subsets.get(subset);
      if (cached === undefined) this.subsets.set(subset, view = this.newView(subset)); else view = cached;
    }
    if (view.version !== this.version) this.refresh(view);
    return view;
  }

  private refresh(view: View): void {
    let tier = Infinity;
    for (const e of this.all) {
      if (e.priority < tier && e.ejectedUntil === 0 && this.healthy(e) && e.matches(view.subset)) tier = e.priority;
    }
    const next: PoolEndpoint[] = [];
    if (tier !== Infinity) {
      for (const e of this.all) {
        if (e.priority === tier && e.ejectedUntil === 0 && this.healthy(e) && e.matches(view.subset)) next.push(e);
      }
    }
    view.activeTier = tier === Infinity ? null : tier;
    view.version = this.version;
    if (!sameMembers(next, view.eligible) || view.weightEpoch !== this.weightEpoch) {
      view.eligible = next;
      view.weightEpoch = this.weightEpoch;
      view.policy.update?.(next);
    }
  }

  private newView(subset: Subset | undefined): View {
    const policy = createPolicy(this.settings.policy, this.deps, this.settings.policyOptions);
    return { subset, eligible: [], activeTier: null, policy, version: 0, weightEpoch: this.weightEpoch };
  }

  private changed(): void {
    this.version++;
    let healthy = 0;
    for (const e of this.all) if (this.healthy(e)) healthy++;
    this.healthyCount = healthy;
  }
}

function resolve(s: ServiceSettings): Required<Omit<ServiceSettings, 'outlier'>> & { outlier: OutlierOptions } {
  return { policy: s.policy ?? DEFAULT_POLICY, policyOptions: s.policyOptions ?? {}, includeWarning: s.includeWarning ?? true, outlier: s.outlier ?? {} };
}

/** Same endpoints in the same order; a weight change counts as a change (stateful policies depend on it). */
function sameMembers(a: readonly PoolEndpoint[], b: readonly PoolEndpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
