// Consistent hashing on a ring with virtual nodes (Karger et al.; Envoy's RING_HASH).
//
// Why a ring and not Maglev: on a ring, adding or removing an endpoint moves exactly the keys on the arcs that
// endpoint gains or loses (≈ 1/n) and no others, while Maglev's table rebuild also shuffles a few percent of
// unrelated keys; a ring also has a natural "next endpoint clockwise" for retries that must avoid the one
// already tried. Maglev's O(1) lookup matters little here: a binary search over a few thousand points costs
// ~12 comparisons. Each endpoint gets virtual nodes in proportion to its weight — a fixed count per unit of
// weight (1.6, i.e. 160 for the default weight 100), not a share of a fixed ring size, so one endpoint joining
// does not change how many points the others own (which would move extra keys).
//
// The key comes from PickContext.hashKey (a header value or the client address, chosen by the route);
// a request without one is balanced round robin.
import { RoundRobinPolicy } from './round-robin.js';
import type { BalancerEndpoint, BalancerPolicy, PickContext } from './policy.js';
import { hashString } from '../../core/hash.js';

export interface ConsistentHashOptions {
  /** Virtual nodes per unit of weight (default 1.6: 160 points for weight 100). At least 4 per endpoint. */
  pointsPerWeight?: number;
}

export const CONSISTENT_HASH_DEFAULTS = { pointsPerWeight: 1.6, minPoints: 4 } as const;

export class ConsistentHashPolicy implements BalancerPolicy {
  readonly name = 'consistent-hash' as const;
  private points: Uint32Array = new Uint32Array(0);
  private owners: Int32Array = new Int32Array(0);
  private known: readonly BalancerEndpoint[] | undefined;
  private readonly fallback = new RoundRobinPolicy();
  private readonly pointsPerWeight: number;

  constructor(options: ConsistentHashOptions = {}) {
    this.pointsPerWeight = options.pointsPerWeight ?? CONSISTENT_HASH_DEFAULTS.pointsPerWeight;
  }

  update(endpoints: readonly BalancerEndpoint[]): void {
    const entries: Array<[number, number]> = [];
    endpoints.forEach((e, i) => {
      const count = Math.max(CONSISTENT_HASH_DEFAULTS.minPoints, Math.round(e.weight * this.pointsPerWeight));
      // Points derive from the endpoint's key only, so the ring is the same on every proxy and across restarts.
      for (let v = 0; v < count; v++) entries.push([hashString(`${e.key}#${v}`), i]);
    });
    // Ties (two points hashing equal) are broken by key so the ring does not depend on array order.
    entries.sort((x, y) => x[0] - y[0] || (endpoints[x[1]]!.key < endpoints[y[1]]!.key ? -1 : 1));
    this.points = Uint32Array.from(entries, (p) => p[0]);
    this.owners = Int32Array.from(entries, (p) => p[1]);
    this.known = endpoints;
  }

  pick(endpoints: readonly BalancerEndpoint[], ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    if (ctx.hashKey === undefined) return this.fallback.pick(endpoints, ctx, exclude);
    if (endpoints !== this.known) this.update(endpoints);
    const points = this.points;
    const start = firstPointAtOrAfter(points, hashString(ctx.hashKey));
    const home = endpoints[this.owners[start]!]!;
    if (exclude === undefined || exclude.size === 0 || endpoints.length === 1 || !exclude.has(home.key)) return home;
    // A retry walks clockwise to the next endpoint not yet tried — the one that would own the key without them.
    for (let step = 1; step < points.length; step++) {
      const candidate = endpoints[this.owners[(start + step) % points.length]!]!;
      if (!exclude.has(candidate.key)) return candidate;
    }
    return home;
  }

  /** Each endpoint's share of the ring: the fraction of all keys that map to it. */
  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    if (endpoints !== this.known) this.update(endpoints);
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.key, 0);
    const points = this.points;
    const ring = 2 ** 32;
    for (let i = 0; i < points.length; i++) {
      // A point owns the arc from the previous point (exclusive) up to itself.
      const prev = i === 0 ? points[points.length - 1]! - ring : points[i - 1]!;
      const key = endpoints[this.owners[i]!]!.key;
      out.set(key, out.get(key)! + (points[i]! - prev) / ring);
    }
    return out;
  }
}

/** Index of the first ring point ≥ h, wrapping to 0 past the last. */
function firstPointAtOrAfter(points: Uint32Array, h: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]! < h) lo = mid + 1; else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

