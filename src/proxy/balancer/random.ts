// Random: each pick drawn with probability proportional to weight (uniform when weights are equal), by binary
// search over cumulative weights rebuilt only when the set changes. Stateless between picks.
import type { Random } from '../../core/clock.js';
import type { BalancerEndpoint, BalancerPolicy, PickContext } from './policy.js';
import { cumulativeWeights, weightOf } from './weights.js';

export class RandomPolicy implements BalancerPolicy {
  readonly name = 'random' as const;
  private cumulative: Float64Array = new Float64Array(0);
  private known: readonly BalancerEndpoint[] | undefined;

  constructor(private readonly random: Random) {}

  update(endpoints: readonly BalancerEndpoint[]): void {
    this.cumulative = cumulativeWeights(endpoints);
    this.known = endpoints;
  }

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    if (endpoints !== this.known) this.update(endpoints);
    const cum = this.cumulative;
    const u = this.random() * cum[cum.length - 1]!;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid; else lo = mid + 1;
    }
    const chosen = endpoints[lo]!;
    if (exclude === undefined || exclude.size === 0 || endpoints.length === 1 || !exclude.has(chosen.key)) return chosen;
    // A retry: by weight among the endpoints not tried yet (two passes, no array built).
    let left = 0;
    for (const e of endpoints) if (!exclude.has(e.key)) left += weightOf(e);
    if (left === 0) return chosen;
    let v = this.random() * left;
    for (const e of endpoints) {
      if (exclude.has(e.key)) continue;
      v -= weightOf(e);
      if (v < 0) return e;
    }
    return chosen;
  }

  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    let total = 0;
    for (const e of endpoints) total += weightOf(e);
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, weightOf(e) / total);
    return out;
  }
}
