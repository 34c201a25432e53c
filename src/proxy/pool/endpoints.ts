// The proxy's endpoint table: discovery speaks in updates (reset / upsert / remove, see WatchEvent) and the
// table only applies them, to one ServicePool per service. Pools and endpoint objects are stable: the same
// service name always yields the same pool and the same "<service>/<id>" the same endpoint object until it is
// removed, so the router may cache a pool and a request may hold an endpoint across updates.
import type { PickContext } from '../balancer/policy.js';
import type { RoutesService } from '../../core/admin-types.js';
import type { WatchEvent } from '../../core/types.js';
import type { PoolEndpoint } from './endpoint.js';
import type { SnapshotOptions } from './snapshot.js';
import { ServicePool, type PickFailure, type PoolDeps, type ServiceSettings, type Subset } from './service-pool.js';

export { ServicePool, PICK_FAILURE_CODES } from './service-pool.js';
export type { PickFailure, PoolDeps, RequestOutcome, ServiceSettings, Subset } from './service-pool.js';
export { PoolEndpoint } from './endpoint.js';

/** Settings per service name; called when a pool is created and again on every configure(). */
export type SettingsFor = (service: string) => ServiceSettings;

export class EndpointTable {
  private readonly pools = new Map<string, ServicePool>();
  private settingsFor: SettingsFor;
  /** Registry index the table reflects (0 before the first update). */
  index = 0;

  constructor(private readonly deps: PoolDeps, settingsFor: SettingsFor = () => ({})) {
    this.settingsFor = settingsFor;
  }

  /** Applies one watch event. A reset replaces the whole table but keeps the objects of endpoints that stay. */
  apply(event: WatchEvent): void {
    switch (event.type) {
      case 'reset': {
        const seen = new Map<string, Set<string>>();
        for (const inst of event.instances) {
          this.pool(inst.service).upsert(inst);
          let ids = seen.get(inst.service);
          if (ids === undefined) seen.set(inst.service, ids = new Set());
          ids.add(inst.id);
        }
        for (const [name, pool] of this.pools) {
          const keep = seen.get(name);
          for (const e of [...pool.endpoints()]) if (keep === undefined || !keep.has(e.id)) pool.remove(e.id);
        }
        break;
      }
      case 'upsert':
        this.pool(event.instance.service).upsert(event.instance);
        break;
      case 'remove':
        this.pools.get(event.service)?.remove(event.id);
        break;
    }
    this.index = event.index;
  }

  /** The pool of a service, or undefined when the registry never had it. May be empty (size 0). */
  service(name: string): ServicePool | undefined {
    return this.pools.get(name);
  }

  /** Every service the table has a pool for, emptied ones included. */
  names(): IterableIterator<string> {
    return this.pools.keys();
  }

  /** Services that have at least one registered endpoint, sorted by name. */
  serviceNames(): string[] {
    return [...this.pools.values()].filter((p) => p.size > 0).map((p) => p.service).sort();
  }

  /** Picks an endpoint of `service`; see ServicePool.pick. */
  pick(service: string, ctx: PickContext, exclude?: ReadonlySet<string>, subset?: Subset): PoolEndpoint | PickFailure {
    const pool = this.pools.get(service);
    return pool === undefined ? 'no-such-service' : pool.pick(ctx, exclude, subset);
  }

  /** Re-applies per-service settings (after a config reload). */
  configure(settingsFor: SettingsFor): void {
    this.settingsFor = settingsFor;
    for (const [name, pool] of this.pools) pool.configure(settingsFor(name));
  }

  /** The admin view of every service with endpoints. */
  snapshot(options: (service: string) => SnapshotOptions = () => ({})): RoutesService[] {
    return this.serviceNames().map((name) => this.pools.get(name)!.snapshot(options(name)));
  }

  private pool(name: string): ServicePool {
    let pool = this.pools.get(name);
    if (pool === undefined) this.pools.set(name, pool = new ServicePool(name, this.deps, this.settingsFor(name)));
    return pool;
  }
}
