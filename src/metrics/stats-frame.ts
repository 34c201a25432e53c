// Turns the recorders' sliding windows into one StatsFrame (the payload of GET /stats), once a second.
import type { Histogram } from 'hdr-histogram-js';
import type { EndpointStatsFrame, GoldenSignals, RequestFates, ServiceStatsFrame, StatsFrame } from '../core/admin-types.js';
import type { ProxyMetrics, ServiceRecorder } from './recorder.js';
import { FATE_NAMES } from './types.js';
import { newLatencyHistogram, type SlidingWindow } from './window.js';

/** Builds frames from one ProxyMetrics, reusing one scratch histogram. */
export class StatsFrameBuilder {
  private readonly scratch: Histogram = newLatencyHistogram();

  constructor(private readonly metrics: ProxyMetrics) {}

  frame(): StatsFrame {
    const services: ServiceStatsFrame[] = [];
    for (const svc of this.metrics.services.values()) services.push(this.service(svc));
    services.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    return { time: this.metrics.clock.now(), windowMs: this.metrics.windowSeconds * 1000, services };
  }

  private service(svc: ServiceRecorder): ServiceStatsFrame {
    const endpoints: EndpointStatsFrame[] = [];
    for (const ep of svc.endpoints.values()) {
      const frame: EndpointStatsFrame = { id: ep.id, address: ep.address, ...this.signals(ep.window, ep.inFlight) };
      const state = this.metrics.probe?.(svc.name, ep.id);
      if (state?.ewmaMs !== undefined) frame.ewmaMs = round(state.ewmaMs, 3);
      if (state?.ejectedUntil !== undefined) frame.ejectedUntil = state.ejectedUntil;
      endpoints.push(frame);
    }
    endpoints.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const fates = {} as RequestFates;
    FATE_NAMES.forEach((name, i) => { fates[name] = svc.fates[i]!; });
    return { service: svc.name, ...this.signals(svc.window, svc.inFlight), fates, endpoints };
  }

  private signals(window: SlidingWindow, inFlight: number): GoldenSignals {
    const s = window.signals(this.scratch);
    return {
      rps: s.seconds === 0 ? 0 : round(s.requests / s.seconds, 3),
      successRate: s.requests === 0 ? null : round((s.requests - s.errors) / s.requests, 5),
      p50: s.p50 === null ? null : round(s.p50, 3),
      p95: s.p95 === null ? null : round(s.p95, 3),
      p99: s.p99 === null ? null : round(s.p99, 3),
      inFlight,
      requests: s.requests,
    };
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
