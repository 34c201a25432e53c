// Per-service concurrency limit — the circuit breaker Envoy calls max_requests: past the limit a request is
// refused at once (the caller answers 503 MESH_ERR_CIRCUIT_OPEN) instead of queueing without bound, so an
// overloaded service sheds load instead of accumulating latency and memory in the proxy.

export class ConcurrencyLimiter {
  private active = 0;
  /** Times acquire() refused, since the limiter was created. */
  rejected = 0;

  /** `max` undefined or ≤ 0 means unlimited. */
  constructor(private max: number | undefined = undefined) {}

  get inFlight(): number { return this.active; }
  get limit(): number | undefined { return this.max !== undefined && this.max > 0 ? this.max : undefined; }

  /** Takes a slot; false when the service is at its limit (nothing taken, do not release). */
  acquire(): boolean {
    if (this.max !== undefined && this.max > 0 && this.active >= this.max) {
      this.rejected++;
      return false;
    }
    this.active++;
    return true;
  }

  /** Gives back a slot taken by a successful acquire(). */
  release(): void {
    if (this.active > 0) this.active--;
  }

  /** Changes the limit (config reload); requests already in flight keep their slots. */
  setLimit(max: number | undefined): void {
    this.max = max;
  }
}
