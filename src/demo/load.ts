// The demo's load generator: a steady rate of GETs per service through the proxy (by Host header), bounded
// in concurrency and total count, so it can never run away; it skips a beat rather than queue.
import { Agent, request } from 'node:http';

export interface LoadOptions {
  proxyHost: string;
  proxyPort: number;
  services: readonly string[];
  /** Requests per second per service. */
  rps: number;
  /** Stop after this many requests in all. */
  maxRequests: number;
  /** At most this many requests in flight at once. */
  maxInFlight?: number;
}

export interface LoadStats { sent: number; ok: number; failed: number; skipped: number }

/** Requests in flight at once unless LoadOptions.maxInFlight says otherwise; past it a beat is skipped. */
export const MAX_IN_FLIGHT = 64;

export interface RunningLoad {
  stats: LoadStats;
  /** Stops sending and waits for in-flight requests. */
  stop(): Promise<void>;
}

const PATHS = ['/', '/api/list', '/api/item/42', '/health'];

export function startLoad(opts: LoadOptions): RunningLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxInFlight ?? MAX_IN_FLIGHT });
  const stats: LoadStats = { sent: 0, ok: 0, failed: 0, skipped: 0 };
  const cap = opts.maxInFlight ?? MAX_IN_FLIGHT;
  let inFlight = 0;
  let stopped = false;
  let idle: (() => void) | undefined;
  const tickMs = 50;
  let credit = 0;

  const send = (service: string) => {
    inFlight++;
    stats.sent++;
    const req = request({ host: opts.proxyHost, port: opts.proxyPort, path: PATHS[stats.sent % PATHS.length], headers: { host: service }, agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode !== undefined && res.statusCode < 500));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  };
  const done = (ok: boolean) => {
    if (ok) stats.ok++; else stats.failed++;
    inFlight--;
    if (inFlight === 0) idle?.();
  };

  const timer = setInterval(() => {
    credit += (opts.rps * tickMs) / 1000;
    const n = Math.floor(credit);
    credit -= n;
    for (let i = 0; i < n; i++) {
      for (const service of opts.services) {
        if (stats.sent >= opts.maxRequests) { clearInterval(timer); return; }
        if (inFlight >= cap) { stats.skipped++; continue; }
        send(service);
      }
    }
  }, tickMs);

  return {
    stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (inFlight > 0) await new Promise<void>((r) => { idle = r; });
      agent.destroy();
    },
  };
}
