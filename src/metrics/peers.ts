// Metrics across `--workers N`: the admin server lives in one worker, so the others send it their numbers once
// a second and it adds them to its own. A worker's state is plain JSON (counters, and each sliding window's
// completed seconds as one compressed HDR histogram), so it crosses node:cluster IPC as is.
//
// Wiring (src/proxy/cluster.ts):
//   worker k > 1:  setInterval(() => process.send({ type: 'metrics', state: metrics.exportState(k) }), 1000).unref()
//   primary:       relays { type: 'metrics' } messages to worker 1
//   worker 1:      process.on('message', (m) => { if (m?.type === 'metrics') metrics.setPeerState(m.state); })
// A peer whose state is more than 3 s old (it died) no longer counts.
import type { Histogram } from 'hdr-histogram-js';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64 } from '../core/hdr-parts.js';
import type { SlidingWindow } from './window.js';
import { newLatencyHistogram } from './window.js';

export interface WindowState { requests: number; errors: number; seconds: number; /** Compressed HDR histogram, '' when empty. */ hist: string }

export interface EndpointState {
  id: string; address: string; inFlight: number; byClass: number[]; buckets: number[]; durationSumS: number;
  bytesIn: number; bytesOut: number; ejections: number; tlsFailures: number; window: WindowState;
  /** This worker's reachability view: epoch ms since which connects fail (0 = reachable), times marked. */
  unreachableSince: number; unreachableMarks: number;
}

export interface ServiceState {
  name: string; inFlight: number; fates: number[]; retries: number; policyDenials: number; underscoreHeaders: number; faultDelays: number; window: WindowState; endpoints: EndpointState[];
}

export interface MetricsState { worker: number; time: number; inboundTlsFailures: number; services: ServiceState[] }

/** A received window: counts plus the decoded histogram, ready to add into a frame's scratch histogram. */
export interface PeerWindow { requests: number; errors: number; seconds: number; hist: Histogram | null }

export interface PeerEndpoint extends Omit<EndpointState, 'window'> { window: PeerWindow }
export interface PeerService extends Omit<ServiceState, 'window' | 'endpoints'> { window: PeerWindow; endpoints: PeerEndpoint[] }
export interface PeerState { worker: number; receivedAt: number; inboundTlsFailures: number; services: PeerService[] }

export const PEER_STALE_MS = 3_000;

export function exportWindow(window: SlidingWindow): WindowState {
  const h = newLatencyHistogram();
  const c = window.accumulate(h);
  return { ...c, hist: c.requests === 0 ? '' : encodeIntoCompressedBase64(h) };
}

export function importWindow(w: WindowState): PeerWindow {
  return { requests: w.requests, errors: w.errors, seconds: w.seconds, hist: w.hist === '' ? null : decodeFromCompressedBase64(w.hist, 32, false) };
}

export function importState(s: MetricsState, receivedAt: number): PeerState {
  return {
    worker: s.worker,
    receivedAt,
    inboundTlsFailures: s.inboundTlsFailures,
    services: s.services.map((svc) => ({
      ...svc,
      window: importWindow(svc.window),
      endpoints: svc.endpoints.map((ep) => ({ ...ep, window: importWindow(ep.window) })),
    })),
  };
}
