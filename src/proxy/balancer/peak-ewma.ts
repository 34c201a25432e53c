// Peak-EWMA, as Linkerd (tower's PeakEwma) and Finagle do it: each endpoint keeps a latency estimate that jumps
// to any higher sample at once (peak) and otherwise moves towards samples with a time-based decay, and that
// decays towards zero while idle so a once-slow endpoint is tried again. The cost compared by power of two
// choices is estimate × (inFlight + 1), so both slowness and queueing steer traffic away.
import type { Clock, Random } from '../../core/clock.js';
import { PowerOfTwoChoices } from './p2c.js';
import type { BalancerEndpoint, BalancerPolicy } from './policy.js';

export interface PeakEwmaOptions {
  /** Decay time constant τ in ms (default 10 s, Linkerd's): older samples weigh exp(-age/τ). */
  decayMs?: number;
  /** Estimate for an endpoint with no samples yet (default 30 ms, Linkerd's default RTT). */
  defaultRttMs?: number;
}

export const PEAK_EWMA_DEFAULTS = { decayMs: 10_000, defaultRttMs: 30 } as const;

export class PeakEwmaPolicy extends PowerOfTwoChoices implements BalancerPolicy {
  readonly name = 'peak-ewma' as const;
  protected override readonly perWeight = false;
  private readonly decayMs: number;
  private readonly defaultRttMs: number;

  constructor(private readonly clock: Clock, random: Random, options: PeakEwmaOptions = {}) {
    super(random);
    this.decayMs = options.decayMs ?? PEAK_EWMA_DEFAULTS.decayMs;
    this.defaultRttMs = options.defaultRttMs ?? PEAK_EWMA_DEFAULTS.defaultRttMs;
  }

  override update(endpoints: readonly BalancerEndpoint[]): void {
    // New endpoints (never observed: stamp 0) start at the default estimate rather than 0, so a joining
    // endpoint is not flooded before its first sample.
    const now = this.clock.monotonic();
    for (const e of endpoints) if (e.ewmaStamp === 0) { e.ewmaMs = this.defaultRttMs; e.ewmaStamp = now; }
    super.update(endpoints);
  }

  /** Folds one request's latency into the endpoint's estimate. Failures count too: a fast error is still a sample. */
  observe(endpoint: BalancerEndpoint, latencyMs: number): void {
    const now = this.clock.monotonic();
    const rtt = latencyMs > 0 ? latencyMs : 0;
    if (endpoint.ewmaStamp === 0) {
      endpoint.ewmaMs = rtt;
    } else if (rtt > endpoint.ewmaMs) {
      endpoint.ewmaMs = rtt;
    } else {
      const decay = Math.exp(-Math.max(0, now - endpoint.ewmaStamp) / this.decayMs);
      endpoint.ewmaMs = endpoint.ewmaMs * decay + rtt * (1 - decay);
    }
    endpoint.ewmaStamp = now;
  }

  /** The estimate decayed to `now` (without writing it back), in ms. */
  estimate(endpoint: BalancerEndpoint, now: number = this.clock.monotonic()): number {
    if (endpoint.ewmaStamp === 0) return this.defaultRttMs;
    return endpoint.ewmaMs * Math.exp(-Math.max(0, now - endpoint.ewmaStamp) / this.decayMs);
  }

  protected load(endpoint: BalancerEndpoint, now: number): number {
    // The floor keeps in-flight counts meaningful after a very long idle decay has taken the estimate to ~0.
    return Math.max(this.estimate(endpoint, now), 1e-3) * (endpoint.inFlight + 1);
  }

  protected now(): number {
    return this.clock.monotonic();
  }
}
