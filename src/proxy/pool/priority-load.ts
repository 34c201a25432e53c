// How a service's traffic is split across its priority tiers, by Envoy's rule for priority levels: a tier's
// health is the share of its registered weight that is eligible (registry-healthy, not ejected, reachable),
// times the overprovisioning factor 1.4, capped at 100%. Tier 0 takes its health in percent of the traffic;
// whatever it cannot take spills to tier 1, which takes up to its own health, and so on. When the tiers'
// healths add up to less than 100%, every tier's load is scaled up by the same factor so they sum to 100%.
//
// So a tier that keeps ≥ 1/1.4 ≈ 72% of its capacity keeps all of its traffic (room for one of four
// endpoints to fail unnoticed by clients), two primaries with one gone keep 70% and send 30% to the backups,
// and a tier with nothing eligible sends everything on. Weight, not count, is the capacity: an endpoint of
// weight 300 is three of weight 100. Pure and allocation-free (the caller owns the arrays); used by the pool
// on every eligible-set change and by `mesh routes explain`.

/** Envoy's default overprovisioning factor. */
export const OVERPROVISIONING_FACTOR = 1.4;

/**
 * Fills `load[i]` with tier i's share of the traffic in percent (integers that sum to 100, or all 0 when no
 * tier has eligible weight) and `health[i]` with its health in percent; tiers are given in priority order.
 */
export function priorityLoads(
  eligibleWeight: ArrayLike<number>, totalWeight: ArrayLike<number>, health: number[], load: number[],
  factor: number = OVERPROVISIONING_FACTOR,
): void {
  const n = eligibleWeight.length;
  let healthSum = 0;
  for (let i = 0; i < n; i++) {
    const total = totalWeight[i]!;
    const h = total > 0 ? Math.min(100, Math.floor((factor * 100 * eligibleWeight[i]!) / total)) : 0;
    // An eligible endpoint always gets some traffic, however small its share (floor could make it 0%).
    health[i] = h === 0 && eligibleWeight[i]! > 0 ? 1 : h;
    healthSum += health[i]!;
  }
  // Scale up when the tiers together cannot take everything (Envoy's "normalized total health").
  const scale = healthSum > 0 && healthSum < 100 ? 100 / healthSum : 1;
  let remaining = 100;
  for (let i = 0; i < n; i++) {
    const share = healthSum === 0 ? 0 : Math.min(remaining, Math.floor(health[i]! * scale));
    load[i] = share;
    remaining -= share;
  }
  // Rounding may leave a point or two: it goes to the first tier with any health.
  if (remaining > 0 && healthSum > 0) {
    for (let i = 0; i < n; i++) if (health[i]! > 0) { load[i]! += remaining; break; }
  }
}
