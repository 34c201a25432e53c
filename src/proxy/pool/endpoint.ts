// One endpoint as the proxy's pool holds it. The same object lives as long as its instance stays registered
// (an upsert updates it in place), so in-flight counts, latency estimates and outlier state survive health
// flaps and re-weighting; a request holds the object and finishes on it even after a deregistration.
import type { HealthState, Instance } from '../../core/types.js';
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { OutlierTarget } from './outlier.js';
import type { ProbeTarget } from './reachability.js';

export class PoolEndpoint implements BalancerEndpoint, OutlierTarget, ProbeTarget {
  readonly key: string;
  readonly service: string;
  readonly id: string;
  address!: string;
  weight!: number;
  priority!: number;
  zone!: string | undefined;
  tags!: Readonly<Record<string, string>>;
  health!: HealthState;
  /** Port of the instance's mesh mTLS listener, when it has one. */
  tlsPort!: number | undefined;
  /** The registry's latest record of the instance. */
  instance!: Instance;

  inFlight = 0;
  /** Requests started on this endpoint since the proxy started (a counter; rates are the metrics' job). */
  requests = 0;
  ewmaMs = 0;
  ewmaStamp = 0;

  consecutiveFailures = 0;
  ejections = 0;
  ejectionLevel = 0;
  ejectedUntil = 0;
  returnedAt = 0;

  /** Monotonic ms since which connects to it fail (see reachability.ts); 0 while it is reachable. */
  unreachableSince = 0;
  /** The same moment in epoch ms, for the admin view; 0 while reachable. */
  unreachableAt = 0;

  /** Set when the instance left the registry: takes no new picks; requests already holding it finish. */
  removed = false;

  constructor(instance: Instance) {
    this.service = instance.service;
    this.id = instance.id;
    this.key = `${instance.service}/${instance.id}`;
    this.refresh(instance); // the first refresh always reports a change (address was unset); nothing reads it
  }

  /** Applies a newer registry record; returns whether anything the balancer looks at changed. */
  refresh(instance: Instance): boolean {
    const changed = this.address !== instance.address || this.weight !== instance.weight
      || this.priority !== instance.priority || this.health !== instance.health
      || this.tlsPort !== instance.tlsPort || this.zone !== instance.zone || !sameTags(this.tags, instance.tags);
    this.instance = instance;
    this.address = instance.address;
    this.weight = instance.weight;
    this.priority = instance.priority;
    this.zone = instance.zone;
    this.tags = instance.tags;
    this.health = instance.health;
    this.tlsPort = instance.tlsPort;
    return changed;
  }

  /** Whether every tag of `subset` is set to the same value on this endpoint. */
  matches(subset: Readonly<Record<string, string>> | undefined): boolean {
    if (subset === undefined) return true;
    for (const k in subset) if (this.tags[k] !== subset[k]) return false;
    return true;
  }
}

function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
