// A retry budget, as Finagle and Linkerd keep one: retries may add at most `ratio` of the requests seen in
// the last `windowMs`, plus a floor of `minPerSecond` retries per second so a quiet service can still retry.
// During an outage every request fails; a per-request retry count would multiply the load on a struggling
// service, a budget caps the extra load at ~20% whatever happens.
//
// The window is a ring of one-second buckets (plain counters, no allocation per request), so the window
// slides in steps of a second.
import type { Clock } from '../../core/clock.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a share of requests in the window (default 0.2). */
  ratio?: number;
  /** Window the ratio is computed over, in ms (default 10 s). */
  windowMs?: number;
  /** Retries allowed per second regardless of traffic (default 10). */
  minPerSecond?: number;
}

export const RETRY_BUDGET_DEFAULTS = { ratio: 0.2, windowMs: 10_000, minPerSecond: 10 } as const;

const BUCKET_MS = 1000;

export class RetryBudget {
  readonly ratio: number;
  readonly windowMs: number;
  readonly minPerSecond: number;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private requestSum = 0;
  private retrySum = 0;
  /** Index (time / BUCKET_MS) of the newest bucket. */
  private head: number;

  constructor(private readonly clock: Clock, options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? RETRY_BUDGET_DEFAULTS.ratio;
    this.windowMs = options.windowMs ?? RETRY_BUDGET_DEFAULTS.windowMs;
    this.minPerSecond = options.minPerSecond ?? RETRY_BUDGET_DEFAULTS.minPerSecond;
    const buckets = Math.max(1, Math.ceil(this.windowMs / BUCKET_MS));
    this.requests = new Float64Array(buckets);
    this.retries = new Float64Array(buckets);
    this.head = Math.floor(clock.monotonic() / BUCKET_MS);
  }

  /** Counts one original request (not its retries). */
  recordRequest(): void {
    this.advance();
    this.requests[this.head % this.requests.length]!++;
    this.requestSum++;
  }

  /** Asks to retry once; returns false (and counts nothing) when the budget is spent. */
  tryRetry(): boolean {
    this.advance();
    if (this.retrySum + 1 > this.allowed()) return false;
    this.retries[this.head % this.retries.length]!++;
    this.retrySum++;
    return true;
  }

  /** Retries the window allows in total right now (spent or not). */
  allowed(): number {
    this.advance();
    return this.ratio * this.requestSum + this.minPerSecond * (this.windowMs / 1000);
  }

  /** Retries still available now. */
  remaining(): number {
    return Math.max(0, Math.floor(this.allowed() - this.retrySum));
  }

  private advance(): void {
    const now = Math.floor(this.clock.monotonic() / BUCKET_MS);
    if (now <= this.head) return;
    const n = this.requests.length;
    // Clear the buckets that fell out of the window (all of them after a long quiet spell).
    for (let t = this.head + 1, steps = 0; t <= now && steps < n; t++, steps++) {
      const i = t % n;
      this.requestSum -= this.requests[i]!;
      this.retrySum -= this.retries[i]!;
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    this.head = now;
  }
}
