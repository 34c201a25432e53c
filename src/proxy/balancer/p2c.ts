// Power of two choices, shared by least-request and peak-EWMA: draw two distinct endpoints with probability
// proportional to weight, keep the one whose load per unit of weight is lower (the first drawn on a tie).
// Drawing by weight makes an idle service split exactly by weight; comparing loads steers away from a busy or
// slow endpoint without the herd effect of always taking the global minimum.
import type { Random } from '../../core/clock.js';
import type { BalancerEndpoint, PickContext } from './policy.js';
import { cumulativeWeights, weightOf } from './weights.js';

export abstract class PowerOfTwoChoices {
  /** Cumulative weights by position, for O(log n) draws when nothing is excluded. */
  private cumulative: Float64Array = new Float64Array(0);
  private known: readonly BalancerEndpoint[] | undefined;

  constructor(protected readonly random: Random) {}

  /** Load of an endpoint now; lower wins. */
  protected abstract load(endpoint: BalancerEndpoint, now: number): number;
  /**
   * Whether loads are compared per unit of weight. Least-request does (in-flight 0 vs 0 ties, so the draw by
   * weight still splits an idle service by weight). Peak-EWMA does not: its costs never tie at 0, and dividing
   * would hand every idle comparison to the heavier endpoint; there weights act through the draw alone.
   */
  protected readonly perWeight: boolean = true;
  /** The time loads are computed at (one clock read per pick). */
  protected abstract now(): number;

  update(endpoints: readonly BalancerEndpoint[]): void {
    this.cumulative = cumulativeWeights(endpoints);
    this.known = endpoints;
  }

  pick(endpoints: readonly BalancerEndpoint[], _ctx: PickContext, exclude?: ReadonlySet<string>): BalancerEndpoint {
    const n = endpoints.length;
    if (n === 1) return endpoints[0]!;
    if (endpoints !== this.known) this.update(endpoints);
    let a: number;
    let b: number;
    if (exclude !== undefined && exclude.size > 0 && countAllowed(endpoints, exclude) > 0) {
      a = this.drawLinear(endpoints, exclude, -1);
      b = this.drawLinear(endpoints, exclude, a);
      if (b < 0) return endpoints[a]!; // only one endpoint left untried
    } else {
      a = this.drawFast(-1);
      b = this.drawFast(a);
    }
    const now = this.now();
    const ea = endpoints[a]!;
    const eb = endpoints[b]!;
    return this.score(eb, now) < this.score(ea, now) ? eb : ea;
  }

  private score(e: BalancerEndpoint, now: number): number {
    return this.perWeight ? this.load(e, now) / weightOf(e) : this.load(e, now);
  }

  /** Draws a position by weight, skipping `skip` (-1 for none), by binary search over cumulative weights. */
  private drawFast(skip: number): number {
    const cum = this.cumulative;
    const total = cum[cum.length - 1]!;
    const skipStart = skip > 0 ? cum[skip - 1]! : 0;
    const skipWeight = skip >= 0 ? cum[skip]! - skipStart : 0;
    let u = this.random() * (total - skipWeight);
    if (skip >= 0 && u >= skipStart) u += skipWeight;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid; else lo = mid + 1;
    }
    return lo === skip ? (skip === 0 ? 1 : skip - 1) : lo; // float edge: never return the skipped one
  }

  /** Draws by weight among endpoints not in `exclude` and not `skip`; -1 when none is left. */
  private drawLinear(endpoints: readonly BalancerEndpoint[], exclude: ReadonlySet<string>, skip: number): number {
    let total = 0;
    for (let i = 0; i < endpoints.length; i++) if (i !== skip && !exclude.has(endpoints[i]!.key)) total += weightOf(endpoints[i]!);
    if (total === 0) return -1;
    let u = this.random() * total;
    let last = -1;
    for (let i = 0; i < endpoints.length; i++) {
      if (i === skip || exclude.has(endpoints[i]!.key)) continue;
      last = i;
      u -= weightOf(endpoints[i]!);
      if (u < 0) return i;
    }
    return last;
  }

  /**
   * The exact chance of each endpoint being picked now: the sum over ordered draws (i, j) of
   * p(i) · p(j | not i) for the draw's winner. O(n²), for `mesh routes explain`, not the request path.
   */
  chances(endpoints: readonly BalancerEndpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    const n = endpoints.length;
    for (const e of endpoints) out.set(e.key, n === 1 ? 1 : 0);
    if (n <= 1) return out;
    const now = this.now();
    let total = 0;
    for (const e of endpoints) total += weightOf(e);
    const score = endpoints.map((e) => this.score(e, now));
    for (let i = 0; i < n; i++) {
      const pi = weightOf(endpoints[i]!) / total;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const pj = weightOf(endpoints[j]!) / (total - weightOf(endpoints[i]!));
        const winner = score[j]! < score[i]! ? endpoints[j]! : endpoints[i]!;
        out.set(winner.key, out.get(winner.key)! + pi * pj);
      }
    }
    return out;
  }
}

function countAllowed(endpoints: readonly BalancerEndpoint[], exclude: ReadonlySet<string>): number {
  let n = 0;
  for (const e of endpoints) if (!exclude.has(e.key)) n++;
  return n;
}
