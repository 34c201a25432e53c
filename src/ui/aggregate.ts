// Pure: merges the latest StatsFrame of several proxies into one view of services and endpoints, and keeps a
// short RPS history per service for sparklines.
import type { EndpointStatsFrame, ProxyIdentity, RequestFates, ServiceStatsFrame, StatsFrame } from '../core/admin-types.js';

export type ProxyState = 'connecting' | 'connected' | 'disconnected';

export interface ProxyStatus {
  url: string;
  state: ProxyState;
  /** Why the last connection ended (for the header). */
  lastError?: string;
  /** Epoch ms of the last frame received. */
  lastFrameAt?: number;
  /** The proxy's own mTLS identity, from its last frame. */
  identity?: ProxyIdentity;
}

export interface StatsView {
  time: number;
  proxies: ProxyStatus[];
  services: ServiceStatsFrame[];
  /** Recent RPS per service, oldest first. */
  history: Record<string, number[]>;
}

const FATE_KEYS: (keyof RequestFates)[] = ['ok', 'okAfterRetry', 'failed', 'retryBudgetExhausted', 'timeout', 'noHealthyEndpoint', 'circuitOpen', 'denied'];

export function emptyFates(): RequestFates {
  return { ok: 0, okAfterRetry: 0, failed: 0, retryBudgetExhausted: 0, timeout: 0, noHealthyEndpoint: 0, circuitOpen: 0, denied: 0, faultInjected: 0 };
}

interface Signals { rps: number; successRate: number | null; p50: number | null; p95: number | null; p99: number | null; inFlight: number; requests: number }

/**
 * Sums rates and counts; success rate is weighted by requests; a percentile across proxies is taken as the
 * request-weighted mean of theirs, except that a single source is passed through exactly. (Exact merged
 * percentiles would need the histograms; a weighted mean is close enough for a dashboard.)
 */
function mergeSignals<T extends Signals>(items: T[]): Signals {
  if (items.length === 1) {
    const i = items[0]!;
    return { rps: i.rps, successRate: i.successRate, p50: i.p50, p95: i.p95, p99: i.p99, inFlight: i.inFlight, requests: i.requests };
  }
  const requests = items.reduce((a, i) => a + i.requests, 0);
  const weighted = (pick: (i: T) => number | null) => {
    let sum = 0;
    let w = 0;
    for (const i of items) {
      const v = pick(i);
      if (v !== null && i.requests > 0) { sum += v * i.requests; w += i.requests; }
    }
    return w === 0 ? null : sum / w;
  };
  return {
    rps: items.reduce((a, i) => a + i.rps, 0),
    successRate: weighted((i) => i.successRate),
    p50: weighted((i) => i.p50), p95: weighted((i) => i.p95), p99: weighted((i) => i.p99),
    inFlight: items.reduce((a, i) => a + i.inFlight, 0),
    requests,
  };
}

export function mergeFrames(frames: readonly StatsFrame[]): ServiceStatsFrame[] {
  const byService = new Map<string, ServiceStatsFrame[]>();
  for (const f of frames) for (const s of f.services) {
    const list = byService.get(s.service) ?? [];
    list.push(s);
    byService.set(s.service, list);
  }
  const out: ServiceStatsFrame[] = [];
  for (const [service, list] of byService) {
    const fates = emptyFates();
    for (const s of list) for (const k of FATE_KEYS) fates[k] += s.fates[k] ?? 0;
    const eps = new Map<string, EndpointStatsFrame[]>();
    for (const s of list) for (const e of s.endpoints) eps.set(e.id, [...(eps.get(e.id) ?? []), e]);
    const endpoints: EndpointStatsFrame[] = [...eps.values()].map((group) => {
      const first = group[0]!;
      const merged: EndpointStatsFrame = { id: first.id, address: first.address, ...mergeSignals(group) };
      const ewma = group.map((e) => e.ewmaMs).filter((v): v is number => v !== undefined);
      if (ewma.length) merged.ewmaMs = Math.max(...ewma);
      const ejected = group.map((e) => e.ejectedUntil).filter((v): v is number => v !== undefined);
      if (ejected.length) merged.ejectedUntil = Math.max(...ejected);
      // Unreachable from any proxy: since the earliest one found it so (each proxy probes it on its own).
      const unreachable = group.map((e) => e.unreachableSince).filter((v): v is number => v !== undefined);
      if (unreachable.length) merged.unreachableSince = Math.min(...unreachable);
      return merged;
    });
    endpoints.sort((a, b) => (a.id < b.id ? -1 : 1));
    out.push({ service, ...mergeSignals(list), fates, endpoints });
  }
  return out.sort((a, b) => (a.service < b.service ? -1 : 1));
}

/** Appends each service's RPS to its history, keeping the last `keep` values. */
export function pushHistory(history: Record<string, number[]>, services: readonly ServiceStatsFrame[], keep: number): Record<string, number[]> {
  const next: Record<string, number[]> = {};
  for (const s of services) next[s.service] = [...(history[s.service] ?? []), s.rps].slice(-keep);
  return next;
}
