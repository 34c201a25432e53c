// The pure parts of `mesh shift`: the split entry of each step, and the canary's error rate between two
// readings of the proxies' /metrics. Tested without sockets.
import type { JsonObject } from '../../config/central.js';
import { tagsMatch } from '../../config/route-rule.js';
import type { RoutesSnapshot } from '../../core/admin-types.js';

/** The service entry at one step: the starting entry's settings with one catch-all split from → to. */
export function entryAtStep(start: JsonObject | undefined, from: Record<string, string>, to: Record<string, string>, percent: number): JsonObject {
  const split = percent >= 100 ? [{ tags: to }] : [{ tags: from, weight: 100 - percent }, { tags: to, weight: percent }];
  return { ...(start ?? {}), routes: [{ split }] };
}

/** Requests and failures (5xx or no response) per endpoint of `service`, from a Prometheus exposition. */
export function requestCounts(metrics: string, service: string): Map<string, { total: number; failed: number }> {
  const out = new Map<string, { total: number; failed: number }>();
  const re = /^mesh_requests_total\{([^}]*)\} (\S+)$/gm;
  for (let m = re.exec(metrics); m !== null; m = re.exec(metrics)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (labels.service !== service || labels.endpoint === undefined) continue;
    const n = Number(m[2]);
    const c = out.get(labels.endpoint) ?? { total: 0, failed: 0 };
    c.total += n;
    if (labels.code_class === '5xx' || labels.code_class === 'error') c.failed += n;
    out.set(labels.endpoint, c);
  }
  return out;
}

/** The ids of the service's endpoints whose tags match the canary subset, as the proxy sees them. */
export function canaryIds(routes: RoutesSnapshot, service: string, to: Record<string, string>): Set<string> {
  const svc = routes.services.find((s) => s.service === service);
  return new Set((svc?.endpoints ?? []).filter((e) => tagsMatch(e.tags, to)).map((e) => e.id));
}

/** The canary's requests and failure share between two readings (summed over proxies by the caller). */
export function canaryDelta(before: Map<string, { total: number; failed: number }>, after: Map<string, { total: number; failed: number }>, ids: ReadonlySet<string>): { total: number; failed: number } {
  let total = 0;
  let failed = 0;
  for (const id of ids) {
    const a = after.get(id);
    const b = before.get(id);
    total += (a?.total ?? 0) - (b?.total ?? 0);
    failed += (a?.failed ?? 0) - (b?.failed ?? 0);
  }
  return { total, failed };
}
