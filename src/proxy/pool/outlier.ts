// Passive outlier detection, like Envoy's consecutive-5xx detector: real traffic's outcomes, not probes,
// decide. N consecutive failures (connect error, reset, 5xx — the caller classifies) eject an endpoint for
// baseEjectionMs × k, where k is its ejection level: it rises by one per ejection (capped by maxEjectionMs)
// and falls by one for every baseEjectionMs the endpoint then stays in service, as Envoy's multiplier does.
// The endpoint comes back by itself when the time is up; nothing needs a timer — the pool asks nextReturn().
//
// The ejection cap: at most maxEjectionPercent of a service's healthy (by registry) endpoints, rounded down,
// but at least one whenever there are two or more. Envoy's 10% default would otherwise never eject anything in
// a service of fewer than ten endpoints, which is most of them; and a lone endpoint is never ejected, because
// a failing endpoint still beats a certain 503 "no healthy endpoint".
import type { Clock } from '../../core/clock.js';

export interface OutlierOptions {
  /** Consecutive failures that eject (default 5, Envoy's). 0 turns detection off. */
  consecutiveFailures?: number;
  /** First ejection's length in ms (default 30 s); the k-th consecutive ejection lasts k times this. */
  baseEjectionMs?: number;
  /** Longest ejection in ms (default 300 s). */
  maxEjectionMs?: number;
  /** Most endpoints of a service ejected at once, in percent (default 10; at least one when ≥ 2 endpoints). */
  maxEjectionPercent?: number;
}

export const OUTLIER_DEFAULTS = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
} as const;

/** The per-endpoint state outlier detection keeps; the pool's endpoint objects carry these fields. */
export interface OutlierTarget {
  readonly key: string;
  readonly address: string;
  consecutiveFailures: number;
  /** Times ejected since the proxy started (for `mesh routes`). */
  ejections: number;
  /** The multiplier of the next ejection's length minus one; decays while the endpoint behaves. */
  ejectionLevel: number;
  /** Monotonic ms until which the endpoint is ejected; 0 when it is not. */
  ejectedUntil: number;
  /** Monotonic ms it last came back from an ejection (for the level's decay). */
  returnedAt: number;
}

export interface EjectionEvent {
  /** 'unreachable' / 'reachable': connects refused, and back after a probe (reachability.ts), not ejections. */
  type: 'ejected' | 'returned' | 'unreachable' | 'reachable';
  service: string;
  key: string;
  address: string;
  /** For 'ejected': how long (ms). */
  durationMs: number;
  /** Total ejections of this endpoint so far. */
  ejections: number;
}

export class OutlierDetector {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  private ejected = 0;

  constructor(
    private readonly service: string,
    private readonly clock: Clock,
    options: OutlierOptions = {},
    private readonly onEvent?: (event: EjectionEvent) => void,
  ) {
    this.consecutiveFailures = options.consecutiveFailures ?? OUTLIER_DEFAULTS.consecutiveFailures;
    this.baseEjectionMs = options.baseEjectionMs ?? OUTLIER_DEFAULTS.baseEjectionMs;
    this.maxEjectionMs = options.maxEjectionMs ?? OUTLIER_DEFAULTS.maxEjectionMs;
    this.maxEjectionPercent = options.maxEjectionPercent ?? OUTLIER_DEFAULTS.maxEjectionPercent;
  }

  /** Endpoints currently ejected. */
  get ejectedCount(): number { return this.ejected; }

  /** How many endpoints may be ejected at once out of `population`. */
  maxEjected(population: number): number {
    if (population < 2) return 0;
    return Math.max(1, Math.floor((population * this.maxEjectionPercent) / 100));
  }

  /** A success resets the consecutive count. */
  success(target: OutlierTarget): void {
    target.consecutiveFailures = 0;
  }

  /**
   * A failure; returns true when it ejected the endpoint. `population` is the number of the service's
   * endpoints the cap is a share of (the pool passes its registry-healthy count).
   */
  failure(target: OutlierTarget, population: number): boolean {
    target.consecutiveFailures++;
    if (this.consecutiveFailures <= 0 || target.consecutiveFailures < this.consecutiveFailures) return false;
    if (target.ejectedUntil !== 0) return false; // already out (a request that was in flight when it was ejected)
    if (this.ejected >= this.maxEjected(population)) return false; // cap reached: keep counting, eject later
    const now = this.clock.monotonic();
    if (target.returnedAt !== 0 && this.baseEjectionMs > 0) {
      const calm = Math.floor((now - target.returnedAt) / this.baseEjectionMs);
      target.ejectionLevel = Math.max(0, target.ejectionLevel - calm);
    }
    const durationMs = Math.min(this.baseEjectionMs * (target.ejectionLevel + 1), Math.max(this.maxEjectionMs, this.baseEjectionMs));
    if (this.baseEjectionMs * target.ejectionLevel < this.maxEjectionMs) target.ejectionLevel++;
    target.ejectedUntil = now + durationMs;
    target.ejections++;
    target.consecutiveFailures = 0;
    this.ejected++;
    this.onEvent?.({ type: 'ejected', service: this.service, key: target.key, address: target.address, durationMs, ejections: target.ejections });
    return true;
  }

  /** Brings back every target whose time is up; returns how many came back. */
  expire(targets: Iterable<OutlierTarget>, now: number = this.clock.monotonic()): number {
    let returned = 0;
    for (const t of targets) {
      if (t.ejectedUntil === 0 || t.ejectedUntil > now) continue;
      this.restore(t, now);
      returned++;
      this.onEvent?.({ type: 'returned', service: this.service, key: t.key, address: t.address, durationMs: 0, ejections: t.ejections });
    }
    return returned;
  }

  /**
   * Ends an ejection early because the registry's health check says the endpoint recovered; returns whether
   * it was ejected. Its ejection level is kept, so a relapse is ejected for longer.
   */
  reinstate(target: OutlierTarget): boolean {
    if (target.ejectedUntil === 0) return false;
    this.restore(target, this.clock.monotonic());
    this.onEvent?.({ type: 'returned', service: this.service, key: target.key, address: target.address, durationMs: 0, ejections: target.ejections });
    return true;
  }

  /** Takes over an ejection made by a previous detector of the same service (after a settings change). */
  adopt(target: OutlierTarget): void {
    if (target.ejectedUntil !== 0) this.ejected++;
  }

  /** Forgets an ejected target that left the service (deregistered), so it no longer counts against the cap. */
  forget(target: OutlierTarget): void {
    if (target.ejectedUntil !== 0) this.restore(target, this.clock.monotonic());
  }

  /** The earliest monotonic ms at which an ejected target returns; Infinity when none is ejected. */
  nextReturn(targets: Iterable<OutlierTarget>): number {
    let next = Infinity;
    for (const t of targets) if (t.ejectedUntil !== 0 && t.ejectedUntil < next) next = t.ejectedUntil;
    return next;
  }

  private restore(t: OutlierTarget, now: number): void {
    t.ejectedUntil = 0;
    t.returnedAt = now;
    t.consecutiveFailures = 0;
    this.ejected--;
  }
}

/** The outcomes outlier detection counts as failures: no response (connect error, reset, timeout) or a 5xx. */
export function isOutlierFailure(status: number | undefined): boolean {
  return status === undefined || status >= 500;
}
