// Weight helpers shared by the policies that draw by weight (random, power of two choices) and by the pool's
// tier capacity.
import type { BalancerEndpoint } from './policy.js';

/** Weights below 1 would break a draw or give no capacity; the registry validates 1..1000, this only guards. */
export function weightOf(e: Pick<BalancerEndpoint, 'weight'>): number {
  return e.weight > 0 ? e.weight : 1;
}

/** Running sums of weights by position, for O(log n) draws by binary search. */
export function cumulativeWeights(endpoints: readonly BalancerEndpoint[]): Float64Array {
  const cum = new Float64Array(endpoints.length);
  let sum = 0;
  endpoints.forEach((e, i) => { sum += weightOf(e); cum[i] = sum; });
  return cum;
}
