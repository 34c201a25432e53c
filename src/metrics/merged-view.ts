// The counters /metrics exports: this worker's recorders, plus every live peer worker's (see ./peers.ts),
// summed per service and per endpoint. Without peers the recorders are returned as they are. Reachability is
// a state, not a count: each worker marks an endpoint on its own failed connect, so the merged endpoint is
// unreachable since the earliest worker that found it so (and while any still does).
import type { ProxyMetrics } from './recorder.js';

export interface EndpointCounters {
  service: string; id: string; inFlight: number; byClass: ArrayLike<number>; buckets: ArrayLike<number>; durationSumS: number;
  bytesIn: number; bytesOut: number; ejections: number; tlsFailures: number; unreachableSince: number; unreachableMarks: number;
}
export interface ServiceCounters { name: string; inFlight: number; fates: ArrayLike<number>; retries: number; policyDenials: number; underscoreHeaders: number; faultDelays: number }
export interface CounterView { services: ServiceCounters[]; endpoints: EndpointCounters[]; inboundTlsFailures: number }

function addInto(into: number[], from: ArrayLike<number>): void {
  for (let i = 0; i < into.length && i < from.length; i++) into[i]! += from[i]!;
}

/** The earlier of two "since" times, where 0 means "not at all". */
export function earliest(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b);
}

export function counterView(metrics: ProxyMetrics): CounterView {
  const local = [...metrics.services.values()];
  const peers = metrics.livePeers();
  if (peers.length === 0) {
    return { services: local, endpoints: local.flatMap((s) => [...s.endpoints.values()]), inboundTlsFailures: metrics.inboundTlsFailures };
  }
  const services = new Map<string, { name: string; inFlight: number; fates: number[]; retries: number; policyDenials: number; underscoreHeaders: number; faultDelays: number }>();
  const endpoints = new Map<string, { service: string; id: string; inFlight: number; byClass: number[]; buckets: number[]; durationSumS: number; bytesIn: number; bytesOut: number; ejections: number; tlsFailures: number; unreachableSince: number; unreachableMarks: number }>();
  const addService = (name: string, s: Omit<ServiceCounters, 'name'>) => {
    const acc = services.get(name) ?? { name, inFlight: 0, fates: new Array<number>(s.fates.length).fill(0), retries: 0, policyDenials: 0, underscoreHeaders: 0, faultDelays: 0 };
    acc.inFlight += s.inFlight; acc.retries += s.retries; acc.policyDenials += s.policyDenials; acc.underscoreHeaders += s.underscoreHeaders; acc.faultDelays += s.faultDelays;
    addInto(acc.fates, s.fates);
    services.set(name, acc);
  };
  const addEndpoint = (service: string, e: Omit<EndpointCounters, 'service'>) => {
    const key = `${service}\u0000${e.id}`;
    const acc = endpoints.get(key) ?? { service, id: e.id, inFlight: 0, byClass: new Array<number>(e.byClass.length).fill(0), buckets: new Array<number>(e.buckets.length).fill(0), durationSumS: 0, bytesIn: 0, bytesOut: 0, ejections: 0, tlsFailures: 0, unreachableSince: 0, unreachableMarks: 0 };
    acc.inFlight += e.inFlight; acc.durationSumS += e.durationSumS; acc.bytesIn += e.bytesIn; acc.bytesOut += e.bytesOut;
    acc.ejections += e.ejections; acc.tlsFailures += e.tlsFailures; acc.unreachableMarks += e.unreachableMarks;
    acc.unreachableSince = earliest(acc.unreachableSince, e.unreachableSince);
    addInto(acc.byClass, e.byClass);
    addInto(acc.buckets, e.buckets);
    endpoints.set(key, acc);
  };
  for (const s of local) {
    addService(s.name, s);
    for (const e of s.endpoints.values()) addEndpoint(s.name, e);
  }
  let inbound = metrics.inboundTlsFailures;
  for (const p of peers) {
    inbound += p.inboundTlsFailures;
    for (const s of p.services) {
      addService(s.name, s);
      for (const e of s.endpoints) addEndpoint(s.name, e);
    }
  }
  return { services: [...services.values()], endpoints: [...endpoints.values()], inboundTlsFailures: inbound };
}
