// One service's endpoints: which of them may take traffic now (registry health, outlier ejection,
// reachability, priority tier, route subset) and which one takes the next request (the policy's job). Pools
// keep books; policies pick. Eligible sets are recomputed only when something changed (a registry update, an
// ejection or a return, an endpoint found unreachable or reachable again), never per request, and a policy is
// told (update()) only when its set really differs. How traffic is split across tiers: priority-load.ts.
import type { Clock, Random } from '../../core/clock.js';
import type { ErrorCode } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { createPolicy, DEFAULT_POLICY, type PolicyOptions } from '../balancer/index.js';
import { PeakEwmaPolicy } from '../balancer/peak-ewma.js';
import type { BalancerPolicy, PickContext, PolicyName } from '../balancer/policy.js';
import { OutlierDetector, type EjectionEvent, type OutlierOptions } from './outlier.js';
import { PoolEndpoint } from './endpoint.js';
import { snapshotPool, type SnapshotOptions } from './snapshot.js';
import { ReachabilityProber } from './reachability.js';
import { TierView, type Subset } from './tier-view.js';

export type { PoolEndpoint } from './endpoint.js';

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
  /** Told of every ejection and return, and of endpoints found unreachable and reachable again (metrics, logs). */
  onEjection?: (event: EjectionEvent) => void;
  /** Probes unreachable endpoints back (default: a prober of the pool's own with real TCP connects). */
  prober?: ReachabilityProber;
  /** Where connects to an endpoint go (its mesh TLS port under mTLS); default its registered address. */
  dialAddress?: (e: PoolEndpoint) => string;
}

/** Why a pick found nothing. Constant strings, so a failed pick allocates nothing. */
export type PickFailure = 'no-such-service' | 'no-healthy-endpoint';

export const PICK_FAILURE_CODES: Readonly<Record<PickFailure, ErrorCode>> = {
  'no-such-service': 'MESH_ERR_NO_SUCH_SERVICE',
  'no-healthy-endpoint': 'MESH_ERR_NO_HEALTHY_ENDPOINT',
};

/** How a request to an endpoint ended, for outlier detection and latency-aware policies. */
export type RequestOutcome = 'success' | 'failure' | 'aborted';

export type { Subset } from './tier-view.js';

export class ServicePool {
  readonly service: string;
  private all: PoolEndpoint[] = [];
  private readonly byId = new Map<string, PoolEndpoint>();
  private settings: Required<Omit<ServiceSettings, 'outlier'>> & { outlier: OutlierOptions };
  private outlier: OutlierDetector;
  private readonly prober: ReachabilityProber;
  /** A policy object for observe() and the admin view's cost (per-endpoint state lives on the endpoints). */
  private observer: BalancerPolicy;
  private main: TierView;
  private subsets = new WeakMap<Subset, TierView>();
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
    this.prober = deps.prober ?? new ReachabilityProber();
    this.observer = this.newPolicy();
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
      this.observer = this.newPolicy();
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
      const address = existing.address;
      if (existing.refresh(instance)) {
        if (existing.weight !== weight) this.weightEpoch++;
        // An active check passing again is fresher news than the failures that ejected it (Envoy does the same),
        // and it connected, so the endpoint is reachable too; a new address has not refused anything yet.
        if (health !== 'passing' && existing.health === 'passing') { this.outlier.reinstate(existing); this.reachable(existing); }
        if (existing.address !== address) this.reachable(existing);
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
    this.prober.cancel(e);
    e.removed = true;
    this.changed();
  }

  /**
   * Picks the endpoint for the next try. `exclude` holds keys already tried (a retry goes elsewhere when it
   * can); `subset` restricts to endpoints carrying those tags — pass the same object each time (the route's
   * config object): its eligible set and policy state are cached by identity. A retry that has tried every
   * active tier goes to the next tier with an untried endpoint (see tier-view.ts).
   */
  pick(ctx: PickContext, exclude?: ReadonlySet<string>, subset?: Subset): PoolEndpoint | PickFailure {
    if (this.all.length === 0) return 'no-such-service';
    const view = this.current(subset);
    if (view.active.length === 0) return 'no-healthy-endpoint';
    return view.pick(ctx, exclude, this.all, this.deps.random);
  }

  /**
   * A connect to `endpoint` failed (refused, timed out, host unreachable): it takes no traffic until a TCP
   * connect to it succeeds again (see reachability.ts). Not an outlier ejection, so not bound by its cap.
   */
  connectFailed(endpoint: PoolEndpoint): void {
    if (endpoint.removed || endpoint.unreachableSince !== 0) return;
    endpoint.unreachableSince = this.deps.clock.monotonic();
    endpoint.unreachableAt = this.deps.clock.now();
    this.version++;
    this.event('unreachable', endpoint);
    this.prober.watch(endpoint, this.deps.dialAddress?.(endpoint) ?? endpoint.address, () => this.reachable(endpoint));
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
    this.observer.observe?.(endpoint, latencyMs, outcome === 'success');
    if (outcome === 'success') {
      this.outlier.success(endpoint);
      // A request got through (one started before the endpoint was marked, or a panic pick): it is back.
      if (endpoint.unreachableSince !== 0) this.reachable(endpoint);
      return;
    }
    if (this.outlier.failure(endpoint, this.healthyCount)) {
      if (endpoint.ejectedUntil < this.nextReturnAt) this.nextReturnAt = endpoint.ejectedUntil;
      this.version++;
    }
  }

  /** The lowest tier taking traffic now, or null (several tiers share the traffic when tier 0 is degraded). */
  activeTier(subset?: Subset): number | null { return this.current(subset).activeTier; }

  /** The endpoints that may be picked now. */
  eligible(subset?: Subset): readonly PoolEndpoint[] { return this.current(subset).eligible; }

  /** Each eligible endpoint's chance of taking the next request (for `mesh routes explain`). */
  chances(subset?: Subset): Map<string, number> {
    return this.current(subset).chances();
  }

  /** Whether an endpoint may take traffic in some tier, reachability aside: registry-healthy, not ejected, in the subset. */
  private usable(e: PoolEndpoint, subset: Subset | undefined): boolean {
    return e.ejectedUntil === 0 && this.healthy(e) && e.matches(subset);
  }

  /** Ends an endpoint's unreachable spell (probe succeeded, a request got through, new address, check passed). */
  private reachable(e: PoolEndpoint): void {
    if (e.unreachableSince === 0) return;
    e.unreachableSince = 0;
    e.unreachableAt = 0;
    this.prober.cancel(e);
    this.version++;
    if (!e.removed) this.event('reachable', e);
  }

  private event(type: 'unreachable' | 'reachable', e: PoolEndpoint): void {
    this.deps.onEjection?.({ type, service: this.service, key: e.key, address: e.address, durationMs: 0, ejections: e.ejections });
  }

  /** Whether an endpoint passes the registry-health filter. */
  healthy(e: PoolEndpoint): boolean {
    return e.health === 'passing' || (e.health === 'warning' && this.settings.includeWarning);
  }

  /** The admin view of this service (GET /routes). */
  snapshot(options: SnapshotOptions = {}): ReturnType<typeof snapshotPool> {
    const view = this.current(undefined);
    const policy = this.observer;
    const cost = policy instanceof PeakEwmaPolicy ? (e: PoolEndpoint) => policy.estimate(e) * (e.inFlight + 1) : undefined;
    return snapshotPool(this, view, this.deps.clock, options, cost);
  }

  private current(subset: Subset | undefined): TierView {
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
    if (view.version !== this.version) {
      view.rebuild(this.all, this.weightEpoch, this.version);
    }
    return view;
  }

  private newPolicy(): BalancerPolicy {
    return createPolicy(this.settings.policy, this.deps, this.settings.policyOptions);
  }

  private newView(subset: Subset | undefined): TierView {
    return new TierView(subset, () => this.newPolicy(), (e) => this.usable(e, subset));
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
