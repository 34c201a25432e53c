// When a workload renews its certificate, and how it backs off when the registry does not answer. Pure
// functions of the clock and a random source, so the policy is unit-tested without waiting.
import type { Random } from '../../core/clock.js';

/** Renewal at a jittered 50–70% of the lifetime left when the certificate arrived (as linkerd and SPIRE do),
 *  so a fleet started together does not renew together. */
export function renewalTime(receivedAt: number, notAfter: number, random: Random): number {
  return receivedAt + (0.5 + 0.2 * random()) * Math.max(0, notAfter - receivedAt);
}

export const RETRY_MIN_MS = 500;
export const RETRY_MAX_MS = 30_000;

/**
 * The wait before retry `attempt` (0-based): exponential from RETRY_MIN_MS, capped at RETRY_MAX_MS and at a
 * quarter of the time the certificate has left (so several tries fit before it expires), with ±20% jitter.
 */
export function retryDelay(attempt: number, now: number, notAfter: number, random: Random): number {
  const left = notAfter - now;
  const cap = left > 0 ? Math.max(RETRY_MIN_MS, Math.min(RETRY_MAX_MS, left / 4)) : RETRY_MAX_MS / 6;
  const base = Math.min(cap, RETRY_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.8 + 0.4 * random()));
}
