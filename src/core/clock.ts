// Time and randomness are injected so that policies, health checks and TTLs can be tested deterministically.

export interface Clock {
  /** Wall-clock milliseconds since the epoch (for timestamps users see). */
  now(): number;
  /** Monotonic milliseconds (for intervals, EWMA decay, ejection times). */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock a test moves by hand. */
export class ManualClock implements Clock {
  constructor(private t = 1_700_000_000_000) {}
  now(): number { return this.t; }
  monotonic(): number { return this.t; }
  advance(ms: number): void { this.t += ms; }
}

/** Returns a float in [0, 1). */
export type Random = () => number;

export const systemRandom: Random = Math.random;

/** A small seeded PRNG (mulberry32) for deterministic tests. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
