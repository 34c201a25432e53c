// Random: a uniform choice that ignores weights (use `weighted`, `least-request` or `peak-ewma` for weights).
// Stateless, so it needs no update().
import type { Random } from '../../core/clock.js';
import type { BalancerEndpoint, BalancerPolicy, PickContext } from './policy.js';

export class RandomPolicy implements BalancerPolicy {
  readonly name = 'random' as const;
  constructor(private readonly random: Random) {}

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    const n = endpoints.length;
    const chosen = endpoints[Math.floor(this.random() * n)]!;
    if (exclude === undefined || exclude.size === 0 || n === 1 || !exclude.has(chosen.key)) return chosen;
    // A retry: uniform among the endpoints not tried yet (two passes, no array built).
    let left = 0;
    for (const e of endpoints) if (!exclude.has(e.key)) left++;
    if (left === 0) return chosen;
    let target = Math.floor(this.random() * left);
    for (const e of endpoints) {
      if (exclude.has(e.key)) continue;
      if (target-- === 0) return e;
    }
    return chosen;
  }

  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, 1 / endpoints.length);
    return out;
  }
}
