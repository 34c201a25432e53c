// What `mesh demo --no-ui` prints at the end: per service the fates of all requests and the recent golden
// signals, per endpoint its traffic and the balancer's verdict — gathered from the proxy's admin API.
import type { RoutesSnapshot, StatsFrame } from '../core/admin-types.js';
import { fetchRoutes, subscribeStats } from '../metrics/admin-client.js';
import type { LoadStats } from './load.js';

export interface DemoSummary {
  durationMs: number;
  /** Where the demo's daemons listened (they are gone once the summary is printed). */
  urls: { registry: string; proxy: string; admin: string };
  load: LoadStats;
  services: Array<{
    service: string;
    /** All requests since the start (the sum of the fates). */
    requests: number;
    ok: number;
    okAfterRetry: number;
    failed: number;
    /** Golden signals over the stats window (the last seconds). */
    rps: number;
    successRate: number | null;
    p50: number | null;
    p99: number | null;
    endpoints: Array<{ id: string; address: string; priority: number; rps: number; successRate: number | null; p99: number | null; ejections: number; state: string }>;
  }>;
}

/** One /stats frame (the stream sends one at once) and /routes. */
export async function collectSummary(urls: DemoSummary['urls'], durationMs: number, load: LoadStats): Promise<DemoSummary> {
  const adminUrl = urls.admin;
  const frame = await new Promise<StatsFrame>((resolve, reject) => {
    const sub = subscribeStats(adminUrl, {
      onFrame: (f) => { sub.close(); resolve(f); },
      onClose: (err) => reject(err ?? new Error('no /stats frame')),
    });
  });
  const routes: RoutesSnapshot = await fetchRoutes(adminUrl);
  return {
    durationMs,
    urls,
    load: { ...load },
    services: frame.services.map((s) => {
      const r = routes.services.find((x) => x.service === s.service);
      const total = Object.values(s.fates).reduce((a, b) => a + b, 0);
      return {
        service: s.service, requests: total, ok: s.fates.ok, okAfterRetry: s.fates.okAfterRetry, failed: total - s.fates.ok - s.fates.okAfterRetry,
        rps: s.rps, successRate: s.successRate, p50: s.p50, p99: s.p99,
        endpoints: (r?.endpoints ?? []).map((e) => {
          const st = s.endpoints.find((x) => x.id === e.id);
          return {
            id: e.id, address: e.address, priority: e.priority, rps: st?.rps ?? 0, successRate: st?.successRate ?? null, p99: st?.p99 ?? null,
            ejections: e.ejections, state: e.eligible ? 'eligible' : (e.excludedBecause ?? 'excluded'),
          };
        }),
      };
    }),
  };
}
