// Round robin: each endpoint in turn, ignoring weights. The cursor survives set changes (taken modulo the new
// size), so an update does not send a burst to the first endpoint.
import type { BalancerEndpoint, BalancerPolicy, PickContext } from './policy.js';

export class RoundRobinPolicy implements BalancerPolicy {
  readonly name = 'round-robin' as const;
  private cursor = 0;

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    const n = endpoints.length;
    if (this.cursor >= n) this.cursor %= n;
    const first = this.cursor;
    this.cursor = first + 1 === n ? 0 : first + 1;
    const chosen = endpoints[first]!;
    if (exclude === undefined || exclude.size === 0 || n === 1 || !exclude.has(chosen.key)) return chosen;
    // A retry: the next endpoint in ring order that was not tried yet; when all were, the turn's own endpoint.
    for (let step = 1; step < n; step++) {
      const candidate = endpoints[(first + step) % n]!;
      if (!exclude.has(candidate.key)) return candidate;
    }
    return chosen;
  }

  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, 1 / endpoints.length);
    return out;
  }
}
