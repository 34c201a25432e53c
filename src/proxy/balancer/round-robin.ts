// Round robin, weighted the way nginx and Envoy do it by default: smooth weighted round robin. Every pick adds
// each endpoint's weight to its running score, takes the highest score and subtracts the total from it.
// Weights 5,1,1 give a a b a c a a — the heavy endpoint's turns are spread out instead of bunched, and every
// window of sum(weights) consecutive picks is exact. With equal weights it is plain round robin (a b c a b c),
// and then it runs as a cursor, O(1) per pick instead of O(n).
//
// Set changes keep each staying endpoint's score (and the cursor, taken modulo the new size), so an update
// does not send a burst to one endpoint. A retry skips the endpoints already tried; when every one was
// tried it picks among all again.
import type { BalancerEndpoint, BalancerPolicy, PickContext, PolicyName } from './policy.js';

export class RoundRobinPolicy implements BalancerPolicy {
  readonly name: PolicyName = 'round-robin';
  private current: Float64Array = new Float64Array(0);
  private known: readonly BalancerEndpoint[] | undefined;
  /** All weights equal: the cursor does the same job as the scores. */
  private uniform = true;
  private cursor = 0;

  update(endpoints: readonly BalancerEndpoint[]): void {
    const next = new Float64Array(endpoints.length);
    if (this.known !== undefined) {
      const old = new Map<string, number>();
      this.known.forEach((e, i) => old.set(e.key, this.current[i]!));
      endpoints.forEach((e, i) => { next[i] = old.get(e.key) ?? 0; });
    }
    this.current = next;
    this.known = endpoints;
    this.uniform = endpoints.every((e) => e.weight === endpoints[0]!.weight);
  }

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    if (endpoints !== this.known) this.update(endpoints);
    const skip = exclude !== undefined && exclude.size > 0 ? exclude : undefined;
    if (this.uniform) return this.turn(endpoints, skip);
    let best = this.choose(endpoints, skip);
    if (best < 0) best = this.choose(endpoints, undefined); // every endpoint was tried: pick among all again
    return endpoints[best]!;
  }

  /** Each endpoint's long-run share: its weight over the total. */
  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    let total = 0;
    for (const e of endpoints) total += Math.max(0, e.weight);
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, total > 0 ? Math.max(0, e.weight) / total : 1 / endpoints.length);
    return out;
  }

  /** Equal weights: each endpoint in turn; a retry takes the next one in ring order not tried yet. */
  private turn(endpoints: readonly BalancerEndpoint[], skip: ReadonlySet<string> | undefined): BalancerEndpoint {
    const n = endpoints.length;
    if (this.cursor >= n) this.cursor %= n;
    const first = this.cursor;
    this.cursor = first + 1 === n ? 0 : first + 1;
    const chosen = endpoints[first]!;
    if (skip === undefined || n === 1 || !skip.has(chosen.key)) return chosen;
    for (let step = 1; step < n; step++) {
      const candidate = endpoints[(first + step) % n]!;
      if (!skip.has(candidate.key)) return candidate;
    }
    return chosen;
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
}
