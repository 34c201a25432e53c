// The policy factory: one fresh policy object per eligible set (a pool keeps one per service and subset),
// because round-robin cursors, smooth-weight scores and hash rings are state about that set.
import { ValidationError } from '../../core/errors.js';
import { ConsistentHashPolicy, type ConsistentHashOptions } from './consistent-hash.js';
import { LeastRequestPolicy } from './least-request.js';
import { PeakEwmaPolicy, type PeakEwmaOptions } from './peak-ewma.js';
import { POLICY_NAMES, type BalancerPolicy, type PolicyDeps, type PolicyName } from './policy.js';
import { RandomPolicy } from './random.js';
import { RoundRobinPolicy } from './round-robin.js';
import { WeightedPolicy } from './weighted.js';

export type { BalancerEndpoint, BalancerPolicy, PickContext, PolicyDeps, PolicyName } from './policy.js';
export { POLICY_NAMES } from './policy.js';

/** Per-policy tuning; each policy reads only its own fields. */
export interface PolicyOptions extends PeakEwmaOptions, ConsistentHashOptions {}

export const DEFAULT_POLICY: PolicyName = 'round-robin';

export function isPolicyName(name: unknown): name is PolicyName {
  return typeof name === 'string' && (POLICY_NAMES as readonly string[]).includes(name);
}

/** Creates a policy by name; an unknown name is a ValidationError listing the valid ones. */
export function createPolicy(name: string, deps: PolicyDeps, options: PolicyOptions = {}): BalancerPolicy {
  switch (name) {
    case 'round-robin': return new RoundRobinPolicy();
    case 'random': return new RandomPolicy(deps.random);
    case 'weighted': return new WeightedPolicy();
    case 'least-request': return new LeastRequestPolicy(deps.random);
    case 'peak-ewma': return new PeakEwmaPolicy(deps.clock, deps.random, options);
    case 'consistent-hash': return new ConsistentHashPolicy(options);
    default:
      throw new ValidationError('policy', `unknown load-balancing policy "${name}": use one of ${POLICY_NAMES.join(', ')}`);
  }
}
