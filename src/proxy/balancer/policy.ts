// Policies pick; pools keep books. A policy sees only the eligible endpoints (healthy, not ejected, in the
// active priority tier, in the route's subset) and returns one of them.
import type { Clock, Random } from '../../core/clock.js';

/** The balancer's view of one endpoint. The pool owns these objects and mutates their counters in place. */
export interface BalancerEndpoint {
  /** Stable key: "<service>/<instance id>". */
  readonly key: string;
  readonly address: string;
  readonly weight: number;
  /** Requests currently in flight to this endpoint (the pool increments/decrements). */
  inFlight: number;
  /** Peak-EWMA latency estimate in ms (maintained by the peak-EWMA policy's observe()). */
  ewmaMs: number;
  /** Monotonic ms of the last EWMA update. */
  ewmaStamp: number;
}

/** What a request offers a policy to decide with: a hash key for consistent hashing. */
export interface PickContext {
  /** Hash key (header value or client address) for consistent-hash policies; undefined when none. */
  hashKey?: string;
}

export interface BalancerPolicy {
  readonly name: PolicyName;
  /** Picks one of `endpoints` (never empty). `exclude` lists keys a retry should avoid when it can. */
  pick(endpoints: readonly BalancerEndpoint[], ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint;
  /** Told when the eligible set changes, so stateful policies (smooth weights, hash rings) can rebuild. */
  update?(endpoints: readonly BalancerEndpoint[]): void;
  /** Told the outcome of a request (latency ms), for latency-aware policies. */
  observe?(endpoint: BalancerEndpoint, latencyMs: number, ok: boolean): void;
  /** The chance each endpoint has to be picked now (for `mesh routes explain`), keys to probabilities. */
  chances?(endpoints: readonly BalancerEndpoint[]): Map<string, number>;
}

// The names live with the config schema (src/config), which the registry validates with too.
import type { PolicyName } from '../../config/policy-names.js';
export { POLICY_NAMES, type PolicyName } from '../../config/policy-names.js';

export interface PolicyDeps {
  clock: Clock;
  random: Random;
}
