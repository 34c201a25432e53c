// `weighted`: the name older config files use for smooth weighted round robin, which is now what
// `round-robin` (the default) does. Kept so those files still load; it behaves exactly like round-robin.
import { RoundRobinPolicy } from './round-robin.js';
import type { BalancerPolicy, PolicyName } from './policy.js';

export class WeightedPolicy extends RoundRobinPolicy implements BalancerPolicy {
  override readonly name: PolicyName = 'weighted';
}
