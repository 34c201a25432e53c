// The admin view of a service pool (GET /routes, `mesh routes`): every endpoint with why it is or is not
// taking traffic. Built on demand, off the request path.
import type { Clock } from '../../core/clock.js';
import type { RoutesEndpoint, RoutesService } from '../../core/admin-types.js';
import type { PoolEndpoint } from './endpoint.js';
import type { TierView } from './tier-view.js';

export interface SnapshotOptions {
  /** Requests per second of an endpoint over the stats window (the metrics module knows; default 0). */
  rps?: (endpoint: PoolEndpoint) => number;
  /** The service's concurrency limit and current in-flight count, when a limiter is in force. */
  maxConcurrent?: number;
  inFlight?: number;
}

/** What the snapshot needs of a pool (kept narrow so this module does not import the pool class). */
export interface SnapshotSource {
  readonly service: string;
  readonly policyName: string;
  endpoints(): readonly PoolEndpoint[];
  healthy(e: PoolEndpoint): boolean;
}

export function snapshotPool(
  pool: SnapshotSource, view: Pick<TierView, 'eligible' | 'activeTier' | 'tiers'>, clock: Clock, options: SnapshotOptions,
  /** Peak-EWMA's current cost of an endpoint (decayed estimate × (inFlight + 1)), when that is the policy. */
  ewmaCost?: (e: PoolEndpoint) => number,
): RoutesService {
  const eligibleSet = new Set(view.eligible);
  const activeTier = view.activeTier;
  const mono = clock.monotonic();
  const wall = clock.now();
  let inFlight = 0;
  const endpoints = pool.endpoints().map((e): RoutesEndpoint => {
    inFlight += e.inFlight;
    const out: RoutesEndpoint = {
      id: e.id,
      address: e.address,
      weight: e.weight,
      priority: e.priority,
      tags: { ...e.tags },
      health: e.health,
      ejections: e.ejections,
      consecutiveFailures: e.consecutiveFailures,
      inFlight: e.inFlight,
      rps: options.rps?.(e) ?? 0,
      eligible: eligibleSet.has(e),
    };
    if (e.zone !== undefined) out.zone = e.zone;
    if (e.tlsPort !== undefined) out.tlsPort = e.tlsPort;
    if (e.ejectedUntil !== 0) out.ejectedUntil = Math.round(wall + (e.ejectedUntil - mono));
    if (e.unreachableSince !== 0) out.unreachableSince = e.unreachableAt;
    if (ewmaCost !== undefined) out.ewmaMs = Math.round(ewmaCost(e) * 1000) / 1000;
    const why = excludedBecause(pool, e, activeTier, out.eligible);
    if (why !== undefined) out.excludedBecause = why;
    return out;
  });
  const tiers = view.tiers.map((t) => ({ priority: t.priority, health: t.health, load: t.load }));
  const service: RoutesService = { service: pool.service, policy: pool.policyName, activeTier, tiers, inFlight: options.inFlight ?? inFlight, endpoints };
  if (options.maxConcurrent !== undefined) service.maxConcurrent = options.maxConcurrent;
  return service;
}

function excludedBecause(
  pool: SnapshotSource, e: PoolEndpoint, activeTier: number | null, eligible: boolean,
): RoutesEndpoint['excludedBecause'] {
  if (eligible) return undefined;
  if (e.health === 'critical') return 'critical';
  if (!pool.healthy(e)) return 'warning';
  if (e.ejectedUntil !== 0) return 'ejected';
  if (e.unreachableSince !== 0) return 'unreachable';
  if (activeTier !== null) return 'inactive-tier';
  return undefined;
}
