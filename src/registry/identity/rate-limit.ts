// Brute-force brake for the identity API: each remote address may fail (wrong token, bad renewal proof) a few
// times per window; past that, it is answered 429 without looking at what it sent until the window ends. The
// table is bounded, so a flood of addresses cannot grow memory without limit (the oldest entry is dropped).
import { MeshError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';

export interface FailureLimiterOptions { maxFailures: number; windowMs: number; maxAddresses?: number; clock: Clock }

export class FailureLimiter {
  readonly #byAddress = new Map<string, { since: number; failures: number }>();
  constructor(private readonly opts: FailureLimiterOptions) {}

  /** Throws 429 MESH_ERR_RATE_LIMITED while `address` is over its budget. */
  check(address: string): void {
    const e = this.#current(address);
    if (e !== undefined && e.failures >= this.opts.maxFailures) {
      const wait = Math.ceil((e.since + this.opts.windowMs - this.opts.clock.monotonic()) / 1000);
      throw new MeshError('MESH_ERR_RATE_LIMITED', `too many failed identity requests from ${address}; try again in ${wait} s`);
    }
  }

  fail(address: string): void {
    let e = this.#current(address);
    if (e === undefined) {
      if (this.#byAddress.size >= (this.opts.maxAddresses ?? 10_000)) this.#byAddress.delete(this.#byAddress.keys().next().value!);
      e = { since: this.opts.clock.monotonic(), failures: 0 };
      this.#byAddress.set(address, e);
    }
    e.failures++;
  }

  #current(address: string): { since: number; failures: number } | undefined {
    const e = this.#byAddress.get(address);
    if (e !== undefined && this.opts.clock.monotonic() - e.since >= this.opts.windowMs) {
      this.#byAddress.delete(address);
      return undefined;
    }
    return e;
  }
}
