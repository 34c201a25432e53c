// Unreachable endpoints and the background prober that brings them back.
//
// An endpoint whose connection is refused (or whose connect times out, or whose host is unreachable) is not an
// outlier answering badly: nothing is listening there. It leaves the eligible set at the first such failure —
// not after five, and not bound by max-ejection-percent, which exists so that a run of bad *answers* cannot
// empty a service — and nothing is sent to it again until a TCP connect to it succeeds. The prober tries that
// connect after 250 ms, then after 500 ms, 1 s, … doubling up to every 10 s, for as long as the endpoint stays
// registered; one success returns it (and so does a request that reaches it successfully anyway, see the pool).
// No jitter: each proxy (and each worker) marks an endpoint at the moment its own request failed, which
// spreads the probes already, and a probe is one SYN.
//
// Timers and the connect are injected, so unit tests run the backoff on a fake clock.
import { tcpConnect } from '../../core/tcp-connect.js';

export const PROBE_DEFAULTS = { firstDelayMs: 250, maxDelayMs: 10_000, timeoutMs: 1_000 } as const;

/** What the prober keeps per endpoint; the pool's endpoint objects carry these fields. */
export interface ProbeTarget {
  readonly key: string;
  /** Monotonic ms since which the endpoint is unreachable; 0 while it is reachable. */
  unreachableSince: number;
}

export interface ProberDeps {
  /** One TCP connect: true when the endpoint accepted it within `timeoutMs`. */
  connect(address: string, timeoutMs: number): Promise<boolean>;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export interface ProberOptions {
  firstDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

/** The real thing: node's TCP connect and unref'd timers (a prober never keeps the process alive). */
export const systemProberDeps: ProberDeps = {
  connect: (address, timeoutMs) => tcpConnect(address, timeoutMs).then(() => true, () => false),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Probe { attempt: number; timer: unknown; address: string; onReachable: () => void }

export class ReachabilityProber {
  private readonly probes = new Map<ProbeTarget, Probe>();
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly deps: ProberDeps = systemProberDeps, options: ProberOptions = {}) {
    this.firstDelayMs = options.firstDelayMs ?? PROBE_DEFAULTS.firstDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? PROBE_DEFAULTS.maxDelayMs;
    this.timeoutMs = options.timeoutMs ?? PROBE_DEFAULTS.timeoutMs;
  }

  /** Endpoints being probed now. */
  get size(): number { return this.probes.size; }

  /**
   * Starts probing `target` at `address` (the host:port its connects went to: its mesh TLS port under mTLS);
   * no-op when it already is. `onReachable` runs once, after the first success.
   */
  watch(target: ProbeTarget, address: string, onReachable: () => void): void {
    if (this.probes.has(target)) return;
    const probe: Probe = { attempt: 0, timer: undefined, address, onReachable };
    this.probes.set(target, probe);
    this.schedule(target, probe);
  }

  /** Stops probing `target` (it came back by other means, changed address or left the registry). */
  cancel(target: ProbeTarget): void {
    const probe = this.probes.get(target);
    if (probe === undefined) return;
    this.deps.clearTimer(probe.timer);
    this.probes.delete(target);
  }

  /** Stops every probe (proxy shutdown). */
  stop(): void {
    for (const target of [...this.probes.keys()]) this.cancel(target);
  }

  /** The wait before probe number `attempt` (0-based): firstDelayMs × 2^attempt, at most maxDelayMs. */
  delay(attempt: number): number {
    return Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** Math.min(attempt, 30));
  }

  private schedule(target: ProbeTarget, probe: Probe): void {
    probe.timer = this.deps.setTimer(() => { void this.run(target, probe); }, this.delay(probe.attempt));
  }

  private async run(target: ProbeTarget, probe: Probe): Promise<void> {
    const ok = await this.deps.connect(probe.address, this.timeoutMs).catch(() => false);
    if (this.probes.get(target) !== probe) return; // cancelled while connecting
    if (ok) {
      this.probes.delete(target);
      probe.onReachable();
      return;
    }
    probe.attempt++;
    this.schedule(target, probe);
  }
}
