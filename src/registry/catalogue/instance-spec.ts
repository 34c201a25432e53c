// What both stores need to decide whether a registration changes anything: the spec part of an instance, and
// comparisons that ignore key order (a re-registration with the same fields is a no-op, not a new index).
import type { HealthCheckSpec, Instance, InstanceSpec } from '../../core/types.js';

/** The client-supplied part of an instance (no registry-maintained state), as a fresh object. */
export function specOf(s: InstanceSpec): InstanceSpec {
  const spec: InstanceSpec = { service: s.service, id: s.id, address: s.address, weight: s.weight, priority: s.priority, tags: { ...s.tags } };
  if (s.zone !== undefined) spec.zone = s.zone;
  if (s.tlsPort !== undefined) spec.tlsPort = s.tlsPort;
  if (s.check !== undefined) spec.check = { ...s.check };
  if (s.definedIn !== undefined) spec.definedIn = s.definedIn;
  return spec;
}

/** Whether registering `spec` over `prev` would change nothing (an idempotent PUT). */
export function sameSpec(prev: InstanceSpec, spec: InstanceSpec): boolean {
  return canonical(specOf(prev)) === canonical(spec);
}

/** Whether two health-check specs are the same, so the instance keeps its health state across a re-register. */
export function sameCheck(a: HealthCheckSpec | undefined, b: HealthCheckSpec | undefined): boolean {
  return canonical(a) === canonical(b);
}

/** A canonical text of a value with object keys sorted (undefined fields dropped). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${k}:${canonical(o[k])}`).join(',')}}`;
}

export const hasActiveCheck = (check?: HealthCheckSpec): boolean => Boolean(check?.http || check?.tcp);

export type HealthFields = Pick<Instance, 'health' | 'healthOutput' | 'lastHeartbeat' | 'criticalSince'>;

/**
 * The health a (re-)registration starts with, the same for every store: an unchanged check keeps its state;
 * an active check starts critical until its first run; a TTL instance's registration is its first heartbeat.
 */
export function initialHealth(prev: Instance | undefined, spec: InstanceSpec, now: number): HealthFields {
  if (prev !== undefined && sameCheck(prev.check, spec.check)) {
    return { health: prev.health, healthOutput: prev.healthOutput, lastHeartbeat: prev.lastHeartbeat, criticalSince: prev.criticalSince };
  }
  return hasActiveCheck(spec.check)
    ? { health: 'critical', healthOutput: 'waiting for first check', criticalSince: now }
    : { health: 'passing', lastHeartbeat: now };
}
