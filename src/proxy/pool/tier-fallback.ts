// A retry that has already tried every eligible endpoint of the tiers taking traffic may go to the next tier
// (as Envoy's previous_priorities retry plugin does), instead of hitting a primary that just failed. A refused
// connect takes an endpoint out at once (reachability.ts), but outlier ejection catches up with primaries that
// answer 503 or reset only after a few failures; until then this is what keeps such a request alive when a
// backup is standing by.
// Only retries reach this (an exclude set covering the tier), so allocating a candidate list here is fine.
import type { Random } from '../../core/clock.js';
import type { PoolEndpoint } from './endpoint.js';

/** Whether every endpoint of `eligible` is in `exclude` (the active tier has been tried in full). */
export function triedAll(eligible: readonly PoolEndpoint[], exclude: ReadonlySet<string>): boolean {
  for (const e of eligible) if (!exclude.has(e.key)) return false;
  return true;
}

/**
 * Picks, by weight, an untried endpoint of the lowest tier above `activeTier` that has one; `usable` says
 * whether an endpoint may take traffic at all (registry health, not ejected, in the route's subset).
 * Undefined when every lower tier is exhausted too.
 */
export function pickFromNextTier(
  all: readonly PoolEndpoint[], activeTier: number, exclude: ReadonlySet<string>,
  usable: (e: PoolEndpoint) => boolean, random: Random,
): PoolEndpoint | undefined {
  let tier = Infinity;
  for (const e of all) {
    if (e.priority > activeTier && e.priority < tier && !exclude.has(e.key) && usable(e)) tier = e.priority;
  }
  if (tier === Infinity) return undefined;
  const candidates: PoolEndpoint[] = [];
  let total = 0;
  for (const e of all) {
    if (e.priority === tier && !exclude.has(e.key) && usable(e)) { candidates.push(e); total += Math.max(e.weight, 0); }
  }
  if (total <= 0) return candidates[Math.floor(random() * candidates.length)] ?? candidates[0];
  let u = random() * total;
  for (const e of candidates) {
    u -= Math.max(e.weight, 0);
    if (u < 0) return e;
  }
  return candidates[candidates.length - 1];
}
