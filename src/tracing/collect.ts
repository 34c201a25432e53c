// What `mesh trace` does over the admin API: ask each proxy given for its recent traces or for one trace's
// spans, and merge the answers into one view (a trace crosses proxies: client → outbound → sidecar → ...).
// A proxy that cannot be asked is reported and skipped, so one stopped sidecar does not hide the others.
import { adminJson } from '../metrics/admin-client.js';
import type { TraceSpanJson, TraceSummary } from './json.js';

export interface TraceQuery { service?: string; slowest?: boolean; limit: number }

export interface Collected<T> { value: T; failures: Array<{ proxy: string; error: Error }> }

export async function collectTraceList(proxies: readonly string[], q: TraceQuery): Promise<Collected<TraceSummary[]>> {
  const params = new URLSearchParams({ limit: String(q.limit) });
  if (q.service !== undefined) params.set('service', q.service);
  if (q.slowest) params.set('slowest', '1');
  const { values, failures } = await askAll(proxies, (p) => adminJson<{ traces: TraceSummary[] }>(p, `/traces?${params}`));
  const merged = mergeSummaries(values.map((v) => v.traces));
  merged.sort(q.slowest ? (a, b) => b.durationMs - a.durationMs : (a, b) => b.startEpochMs - a.startEpochMs);
  return { value: merged.slice(0, q.limit), failures };
}

export async function collectTrace(proxies: readonly string[], traceId: string): Promise<Collected<TraceSpanJson[]>> {
  const { values, failures } = await askAll(proxies, (p) => adminJson<{ spans: TraceSpanJson[] }>(p, `/traces/${traceId}`));
  return { value: mergeSpans(values.map((v) => v.spans)), failures };
}

async function askAll<T>(proxies: readonly string[], ask: (proxy: string) => Promise<T>): Promise<{ values: T[]; failures: Array<{ proxy: string; error: Error }> }> {
  const settled = await Promise.allSettled(proxies.map(ask));
  const values: T[] = [];
  const failures: Array<{ proxy: string; error: Error }> = [];
  settled.forEach((s, i) => { if (s.status === 'fulfilled') values.push(s.value); else failures.push({ proxy: proxies[i]!, error: s.reason as Error }); });
  if (values.length === 0 && failures.length > 0) throw failures[0]!.error;
  return { values, failures };
}

/** One summary per trace: earliest start, latest end, spans and retries added up (proxies see disjoint spans). */
export function mergeSummaries(lists: ReadonlyArray<readonly TraceSummary[]>): TraceSummary[] {
  const byId = new Map<string, TraceSummary>();
  for (const list of lists) {
    for (const s of list) {
      const had = byId.get(s.traceId);
      if (had === undefined) { byId.set(s.traceId, { ...s }); continue; }
      const end = Math.max(had.startEpochMs + had.durationMs, s.startEpochMs + s.durationMs);
      const first = s.startEpochMs < had.startEpochMs ? s : had;
      byId.set(s.traceId, {
        ...first, startEpochMs: first.startEpochMs, durationMs: end - first.startEpochMs,
        spans: had.spans + s.spans, retries: had.retries + s.retries, error: had.error || s.error,
      });
    }
  }
  return [...byId.values()];
}

/** Every span once (a proxy asked twice, or a span both recent and slowest), in start order. */
export function mergeSpans(lists: ReadonlyArray<readonly TraceSpanJson[]>): TraceSpanJson[] {
  const byId = new Map<string, TraceSpanJson>();
  for (const list of lists) for (const s of list) byId.set(s.spanId, s);
  return [...byId.values()].sort((a, b) => a.startEpochMs - b.startEpochMs);
}
