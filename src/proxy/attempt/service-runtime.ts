// Per-service runtime state around the endpoint table: the concurrency limiter, the retry budget and the
// cached metrics objects, behind the narrow interfaces the server and the forwarder use. Everything here is
// looked up once per service (or per endpoint) and then only counted on.
import type { Clock, Random } from '../../core/clock.js';
import type { RoutesSnapshot } from '../../core/admin-types.js';
import type { WatchEvent } from '../../core/types.js';
import { Fate, type EndpointStats, type MeshMetrics, type ServiceStats } from '../../metrics/types.js';
import type { BalancerEndpoint, PickContext } from '../balancer/policy.js';
import { ConcurrencyLimiter } from './concurrency.js';
import { settingsFor, type ProxyConfig, type ServiceSettings } from '../../config/proxy-config.js';
import { EndpointTable, type PoolEndpoint, type ServicePool, type ServiceSettings as PoolSettings } from '../pool/endpoints.js';
import type { MeshErrorCause } from '../errors-response.js';
import type { ForwardService, ServiceDirectory, ServiceGate } from './forward-service.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { EjectionEvent } from '../pool/outlier.js';
import { ReachabilityProber } from '../pool/reachability.js';
import { RetryBudget } from './retry-budget.js';
import type { FailureKind } from './retry.js';

export interface RuntimeDeps {
  clock: Clock;
  random: Random;
  metrics: MeshMetrics;
  pools: UpstreamPools;
  config: () => ProxyConfig;
  log: (line: string) => void;
}

export function poolSettings(s: ServiceSettings): PoolSettings {
  return { policy: s.policy, includeWarning: s.healthyIncludesWarning, outlier: { ...s.outlier } };
}

export class ServiceRuntimes implements ServiceDirectory {
  readonly table: EndpointTable;
  /** One prober for every service's unreachable endpoints. */
  private readonly prober = new ReachabilityProber();
  private readonly runtimes = new Map<string, ServiceRuntime>();

  constructor(private readonly deps: RuntimeDeps) {
    this.table = new EndpointTable(
      {
        clock: deps.clock, random: deps.random, onEjection: (e) => this.onEjection(e),
        prober: this.prober, dialAddress: (e) => deps.pools.dialAddress(e.address, e.tlsPort),
      },
      (name) => poolSettings(settingsFor(deps.config(), name)),
    );
  }

  get(name: string): ServiceRuntime | undefined {
    let rt = this.runtimes.get(name);
    if (rt !== undefined) return rt;
    const pool = this.table.service(name);
    if (pool === undefined) return undefined;
    rt = new ServiceRuntime(pool, this.deps.metrics.service(name), this.deps.clock, settingsFor(this.deps.config(), name));
    this.runtimes.set(name, rt);
    return rt;
  }

  /**
   * Applies a registry watch event, keeps each endpoint's stats object in step with the table (made when an
   * endpoint appears, so an idle one — a backup — is listed in /stats and /metrics before its first request;
   * dropped when it goes), then lets go of upstream connection pools nobody routes to any more.
   */
  apply(event: WatchEvent): void {
    this.table.apply(event);
    if (event.type === 'remove') this.runtimes.get(event.service)?.forgetEndpoint(event.id);
    else if (event.type === 'upsert') this.get(event.instance.service)?.track(event.instance.id);
    else for (const name of this.table.names()) this.get(name)?.trackAll();
    const live = new Set<string>();
    for (const name of this.table.serviceNames()) for (const e of this.table.service(name)!.endpoints()) live.add(e.address);
    this.deps.pools.retain(live);
  }

  /** A new config: pools get their policy/outlier settings, runtimes their budget. */
  reconfigure(): void {
    const config = this.deps.config();
    this.table.configure((name) => poolSettings(settingsFor(config, name)));
    for (const [name, rt] of this.runtimes) rt.reconfigure(settingsFor(config, name));
  }

  snapshot(registry: RoutesSnapshot['registry']): RoutesSnapshot {
    const services = this.table.snapshot((name) => {
      const rt = this.get(name);
      return rt === undefined ? {} : { rps: (e: PoolEndpoint) => rt.endpointStats(e).rps(), maxConcurrent: rt.limiter.limit, inFlight: rt.limiter.inFlight };
    });
    return { index: this.table.index, registry, services };
  }

  private onEjection(e: EjectionEvent): void {
    const id = e.key.slice(e.service.length + 1);
    switch (e.type) {
      case 'ejected':
        this.deps.metrics.service(e.service).endpoint(id, e.address).ejection();
        this.deps.log(`ejected ${e.key} (${e.address}) for ${Math.round(e.durationMs / 1000)}s after consecutive failures (ejection ${e.ejections})`);
        break;
      case 'returned':
        this.deps.log(`returned ${e.key} (${e.address}) to service after ejection`);
        break;
      case 'unreachable':
        this.deps.metrics.service(e.service).endpoint(id, e.address).unreachable(this.deps.clock.now());
        this.deps.log(`unreachable ${e.key} (${e.address}): connect failed; out of service until a probe connects`);
        break;
      case 'reachable':
        this.deps.metrics.service(e.service).endpoint(id, e.address).reachable();
        this.deps.log(`reachable ${e.key} (${e.address}) again; back in service`);
        break;
    }
  }
}

export class ServiceRuntime implements ForwardService, ServiceGate {
  readonly name: string;
  readonly limiter = new ConcurrencyLimiter();
  private budget: RetryBudget;
  private budgetKey: string;
  private readonly ctx: PickContext = { hashKey: undefined };
  private readonly epStats = new Map<PoolEndpoint, EndpointStats>();
  /** Retries the budget refused since start (the request then ends on its last failure). */
  budgetRefusals = 0;

  constructor(private readonly pool: ServicePool, private readonly stats: ServiceStats, private readonly clock: Clock, settings: ServiceSettings) {
    this.name = pool.service;
    this.budgetKey = JSON.stringify(settings.retryBudget);
    this.budget = newBudget(clock, settings);
  }

  reconfigure(settings: ServiceSettings): void {
    const key = JSON.stringify(settings.retryBudget);
    if (key !== this.budgetKey) { this.budgetKey = key; this.budget = newBudget(this.clock, settings); }
  }

  pick(subset: Readonly<Record<string, string>> | undefined, hashKey: string | undefined, exclude: ReadonlySet<string> | undefined): BalancerEndpoint | MeshErrorCause {
    this.ctx.hashKey = hashKey;
    return this.pool.pick(this.ctx, exclude, subset);
  }

  tryStarted(ep: BalancerEndpoint): void {
    this.pool.begin(ep as PoolEndpoint);
    this.endpointStats(ep as PoolEndpoint).requestStarted();
  }

  tryEnded(ep: BalancerEndpoint, ok: boolean, latencyMs: number, status: number): void {
    this.pool.finish(ep as PoolEndpoint, latencyMs, status === 499 ? 'aborted' : ok ? 'success' : 'failure');
    this.endpointStats(ep as PoolEndpoint).requestEnded(status === 499 ? 0 : status, latencyMs);
  }

  bodyBytes(ep: BalancerEndpoint, toEndpoint: number, fromEndpoint: number): void {
    this.endpointStats(ep as PoolEndpoint).bodyBytes(toEndpoint, fromEndpoint);
  }

  connectFailed(ep: BalancerEndpoint): void {
    this.pool.connectFailed(ep as PoolEndpoint);
  }

  tlsHandshakeFailed(ep: BalancerEndpoint): void {
    this.endpointStats(ep as PoolEndpoint).tlsHandshakeFailure();
  }

  /**
   * A retry after a connect failure is not charged to the budget: nothing reached the upstream, so it adds no
   * load there (the budget exists to stop retries from piling onto a struggling service), and the per-request
   * retry count still bounds it. Without this, losing the primaries spent the budget on dead connects.
   */
  takeRetry(kind: FailureKind): boolean {
    if (kind === 'connect' || this.budget.tryRetry()) { this.stats.retry(); return true; }
    this.budgetRefusals++;
    return false;
  }

  admit(maxConcurrent: number | undefined): boolean {
    this.limiter.setLimit(maxConcurrent);
    if (!this.limiter.acquire()) return false;
    this.budget.recordRequest();
    this.stats.requestStarted();
    return true;
  }

  underscoreHeadersDropped(count: number): void {
    this.stats.underscoreHeadersDropped(count);
  }

  refused(cause: 'circuit-open' | 'no-such-service' | 'fault-injected', status = 503): void {
    this.stats.requestStarted();
    // An injected fault is its own fate, and never reaches outlier detection or the retry budget.
    this.stats.requestEnded(cause === 'fault-injected' ? Fate.faultInjected : Fate.circuitOpen, status, 0);
  }

  faultDelayed(): void {
    this.stats.faultDelayed();
  }

  requestEnded(status: number, latencyMs: number, retried: boolean, cause: MeshErrorCause | undefined, budgetRefused = false): void {
    this.limiter.release();
    let fate: Fate;
    if (cause === undefined && status < 500) fate = retried ? Fate.okAfterRetry : Fate.ok;
    else if (cause === 'upstream-timeout') fate = Fate.timeout;
    else if (cause === 'no-healthy-endpoint' || cause === 'no-such-service') fate = Fate.noHealthyEndpoint;
    else if (budgetRefused) fate = Fate.retryBudgetExhausted;
    else fate = Fate.failed;
    this.stats.requestEnded(fate, status, latencyMs);
  }

  /** Makes (or, after an address change, remakes) the stats object of a registered endpoint. */
  track(id: string): void {
    const e = this.pool.endpoint(id);
    if (e !== undefined) this.epStats.set(e, this.stats.endpoint(e.id, e.address));
  }

  /** After a reset: stats for every registered endpoint, none for endpoints that left. */
  trackAll(): void {
    const live = new Set<string>();
    for (const e of this.pool.endpoints()) { live.add(e.id); this.track(e.id); }
    for (const e of [...this.epStats.keys()]) if (!live.has(e.id)) this.forgetEndpoint(e.id);
  }

  endpointStats(e: PoolEndpoint): EndpointStats {
    let s = this.epStats.get(e);
    if (s === undefined) this.epStats.set(e, s = this.stats.endpoint(e.id, e.address));
    return s;
  }

  forgetEndpoint(id: string): void {
    for (const e of this.epStats.keys()) if (e.id === id) this.epStats.delete(e);
    this.stats.removeEndpoint(id);
  }
}

function newBudget(clock: Clock, s: ServiceSettings): RetryBudget {
  return new RetryBudget(clock, { ratio: s.retryBudget.percent / 100, minPerSecond: s.retryBudget.minPerSecond });
}
