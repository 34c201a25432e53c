// Smooth weighted round robin, as nginx does it: every pick adds each endpoint's weight to its running score,
// takes the highest score and subtracts the total from it. Weights 5,1,1 give a a b a c a a — the heavy
// endpoint's turns are spread out instead of bunched, and every window of sum(weights) picks is exact.
import type { BalancerEndpoint, BalancerPolicy, PickContext } from './policy.js';

export class WeightedPolicy implements BalancerPolicy {
  readonly name = 'weighted' as const;
  private current: Float64Array = new Float64Array(0);
  private known: readonly BalancerEndpoint[] | undefined;

  update(endpoints: readonly BalancerEndpoint[]): void {
    // Scores keyed by position: carry over the score of endpoints that stay, so a set change is smooth too.
    const next = new Float64Array(endpoints.length);
    if (this.known !== undefined) {
      const old = new Map<string, number>();
      this.known.forEach((e, i) => old.set(e.key, this.current[i]!));
      endpoints.forEach((e, i) => { next[i] = old.get(e.key) ?? 0; });
    }
    this.current = next;
    this.known = endpoints;
  }

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    if (endpoints !== this.known) this.update(endpoints);
    const skip = exclude !== undefined && exclude.size > 0 ? exclude : undefined;
    let best = this.choose(endpoints, skip);
    if (best < 0) best = this.choose(endpoints, undefined); // every endpoint was tried: pick among all again
    return endpoints[best]!;
  }

  private choose(endpoints: readonly BalancerEndpoint[], skip: ReadonlySet<string> | undefined): number {
    const current = this.current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i]!;
      if (skip !== undefined && skip.has(e.key)) continue;
      const w = e.weight > 0 ? e.weight : 0;
      current[i]! += w;
      total += w;
      if (best < 0 || current[i]! > current[best]!) best = i;
    }
    if (best >= 0) current[best]! -= total;
    return best;
  }

  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    let total = 0;
    for (const e of endpoints) total += Math.max(0, e.weight);
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, total > 0 ? Math.max(0, e.weight) / total : 1 / endpoints.length);
    return out;
  }
}
