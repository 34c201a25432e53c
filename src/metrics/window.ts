// Golden signals over a sliding window: a ring of per-second slots, each a request count, an error count and
// an HDR latency histogram. Recording touches only the current slot; a shared tick (advanced once a second by
// a timer) tells a window to rotate, so the hot path never reads a clock.
import type { Histogram } from 'hdr-histogram-js';
import { build } from '../core/hdr-parts.js';

/** Advanced once a second by the metrics' timer (or by hand in tests). */
export interface Ticker {
  tick: number;
}

/** Latencies are kept in microseconds, 2 significant digits (1% precision), up to 10 minutes. */
const MAX_US = 600_000_000;

export function newLatencyHistogram(): Histogram {
  return build({ bitBucketSize: 32, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 2 });
}

/** p50/p95/p99 in ms of a histogram of microseconds; null when it holds no requests. */
export function percentiles(h: Histogram, requests: number): { p50: number | null; p95: number | null; p99: number | null } {
  if (requests === 0) return { p50: null, p95: null, p99: null };
  return { p50: h.getValueAtPercentile(50) / 1000, p95: h.getValueAtPercentile(95) / 1000, p99: h.getValueAtPercentile(99) / 1000 };
}

export interface WindowSignals {
  requests: number;
  errors: number;
  /** Seconds the numbers cover (less than the window size while the process is young). */
  seconds: number;
  /** Percentiles in ms; null when there were no requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export class SlidingWindow {
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly hists: Histogram[] = [];
  private cur = 0;
  private lastTick: number;
  private readonly startTick: number;

  /** `seconds` complete slots are reported; one more slot fills meanwhile. */
  constructor(private readonly ticker: Ticker, private readonly seconds: number) {
    const n = seconds + 1;
    this.counts = new Float64Array(n);
    this.errors = new Float64Array(n);
    for (let i = 0; i < n; i++) this.hists.push(newLatencyHistogram());
    this.lastTick = ticker.tick;
    this.startTick = ticker.tick;
  }

  record(durationMs: number, ok: boolean): void {
    if (this.lastTick !== this.ticker.tick) this.rotate();
    const i = this.cur;
    this.counts[i]++;
    if (!ok) this.errors[i]++;
    let us = Math.round(durationMs * 1000);
    if (us < 1) us = 1;
    else if (us > MAX_US) us = MAX_US;
    this.hists[i]!.recordValue(us);
  }

  /** Requests per second over the completed slots. */
  rps(): number {
    if (this.lastTick !== this.ticker.tick) this.rotate();
    const secs = this.coveredSeconds();
    if (secs === 0) return 0;
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) if (i !== this.cur) total += this.counts[i]!;
    return total / secs;
  }

  /** Sums the completed slots; `scratch` is a histogram the caller reuses between frames. */
  signals(scratch: Histogram): WindowSignals {
    scratch.reset();
    const { requests, errors, seconds } = this.accumulate(scratch);
    return { requests, errors, seconds, ...percentiles(scratch, requests) };
  }

  /** Adds the completed slots' latencies into `into` (not reset first) and returns their counts. */
  accumulate(into: Histogram): { requests: number; errors: number; seconds: number } {
    if (this.lastTick !== this.ticker.tick) this.rotate();
    let requests = 0;
    let errors = 0;
    for (let i = 0; i < this.counts.length; i++) {
      if (i === this.cur || this.counts[i] === 0) continue;
      requests += this.counts[i]!;
      errors += this.errors[i]!;
      into.add(this.hists[i]!);
    }
    return { requests, errors, seconds: this.coveredSeconds() };
  }

  private coveredSeconds(): number {
    return Math.min(this.seconds, this.ticker.tick - this.startTick);
  }

  private rotate(): void {
    const steps = Math.min(this.ticker.tick - this.lastTick, this.counts.length);
    for (let s = 0; s < steps; s++) {
      this.cur = (this.cur + 1) % this.counts.length;
      if (this.counts[this.cur] !== 0) {
        this.counts[this.cur] = 0;
        this.errors[this.cur] = 0;
        this.hists[this.cur]!.reset();
      }
    }
    this.lastTick = this.ticker.tick;
  }
}
