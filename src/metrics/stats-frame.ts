// Turns the recorders' sliding windows into one StatsFrame (the payload of GET /stats), once a second —
// this worker's windows plus those of live peer workers (see ./peers.ts), merged histogram by histogram.
import type { Histogram } from 'hdr-histogram-js';
import type { EndpointStatsFrame, GoldenSignals, RequestFates, ServiceStatsFrame, StatsFrame } from '../core/admin-types.js';
import { earliest } from './merged-view.js';
import type { PeerEndpoint, PeerService, PeerWindow } from './peers.js';
import type { EndpointRecorder, ProxyMetrics, ServiceRecorder } from './recorder.js';
import { FATE_NAMES } from './types.js';
import { newLatencyHistogram, percentiles, type SlidingWindow } from './window.js';

/** Builds frames from one ProxyMetrics, reusing one scratch histogram. */
export class StatsFrameBuilder {
  private readonly scratch: Histogram = newLatencyHistogram();

  constructor(private readonly metrics: ProxyMetrics) {}

  frame(): StatsFrame {
    const peers = this.metrics.livePeers();
    const names = new Set<string>(this.metrics.services.keys());
    for (const p of peers) for (const s of p.services) names.add(s.name);
    const services: ServiceStatsFrame[] = [];
    for (const name of names) {
      const remote = peers.map((p) => p.services.find((s) => s.name === name)).filter((s): s is PeerService => s !== undefined);
      services.push(this.service(name, this.metrics.services.get(name), remote));
    }
    services.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    return { time: this.metrics.clock.now(), windowMs: this.metrics.windowSeconds * 1000, services };
  }

  private service(name: string, local: ServiceRecorder | undefined, remote: PeerService[]): ServiceStatsFrame {
    const ids = new Map<string, string>(); // id → address
    for (const ep of local?.endpoints.values() ?? []) ids.set(ep.id, ep.address);
    for (const s of remote) for (const ep of s.endpoints) if (!ids.has(ep.id)) ids.set(ep.id, ep.address);
    const endpoints: EndpointStatsFrame[] = [];
    for (const [id, address] of ids) {
      const mine: EndpointRecorder | undefined = local?.endpoints.get(id);
      const theirs = remote.map((s) => s.endpoints.find((e) => e.id === id)).filter((e): e is PeerEndpoint => e !== undefined);
      const inFlight = (mine?.inFlight ?? 0) + theirs.reduce((a, e) => a + e.inFlight, 0);
      const frame: EndpointStatsFrame = { id, address, ...this.signals(mine?.window, theirs.map((e) => e.window), inFlight) };
      const state = this.metrics.probe?.(name, id);
      if (state?.ewmaMs !== undefined) frame.ewmaMs = round(state.ewmaMs, 3);
      if (state?.ejectedUntil !== undefined) frame.ejectedUntil = state.ejectedUntil;
      const unreachableSince = theirs.reduce((a, e) => earliest(a, e.unreachableSince), mine?.unreachableSince ?? 0);
      if (unreachableSince !== 0) frame.unreachableSince = unreachableSince;
      endpoints.push(frame);
    }
    endpoints.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const fates = {} as RequestFates;
    FATE_NAMES.forEach((fate, i) => { fates[fate] = (local?.fates[i] ?? 0) + remote.reduce((a, s) => a + (s.fates[i] ?? 0), 0); });
    const inFlight = (local?.inFlight ?? 0) + remote.reduce((a, s) => a + s.inFlight, 0);
    return { service: name, ...this.signals(local?.window, remote.map((s) => s.window), inFlight), fates, endpoints };
  }

  private signals(window: SlidingWindow | undefined, remote: PeerWindow[], inFlight: number): GoldenSignals {
    this.scratch.reset();
    let requests = 0;
    let errors = 0;
    let seconds = 0;
    if (window) ({ requests, errors, seconds } = window.accumulate(this.scratch));
    for (const w of remote) {
      requests += w.requests;
      errors += w.errors;
      seconds = Math.max(seconds, w.seconds);
      if (w.hist) this.scratch.add(w.hist);
    }
    const p = percentiles(this.scratch, requests);
    return {
      rps: seconds === 0 ? 0 : round(requests / seconds, 3),
      successRate: requests === 0 ? null : round((requests - errors) / requests, 5),
      p50: p.p50 === null ? null : round(p.p50, 3),
      p95: p.p95 === null ? null : round(p.p95, 3),
      p99: p.p99 === null ? null : round(p.p99, 3),
      inFlight,
      requests,
    };
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
