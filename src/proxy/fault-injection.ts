// Injected faults (`mesh fault inject`) on the proxy's request path, for HTTP/1.1 and h2/gRPC alike: which
// fault hits a request, and what hitting it means — a delay holds the request and then forwards it as usual, an
// abort or reset is answered here, before any endpoint is picked. Both are counted per service: a delay in
// mesh_fault_delays_injected_total, an abort or reset as the fault_injected fate (mesh_faults_injected_total),
// which also gets its access-log line. The protocol servers keep only what differs: how to forward,
// how to tell that the client left, and how to write an error answer or a reset on their wire.
import { kindOf, type Fault } from '../config/faults.js';
import type { ServiceGate } from './attempt/forward-service.js';
import type { ProxyServerDeps } from './server-deps.js';

/**
 * The fault this request gets, if any. Called for every request: with no fault configured it is a size check
 * and allocates nothing, so a request without a fault goes on to forward with nothing built for faults.
 */
export function pickFault(deps: ProxyServerDeps, service: string, matchPath: string): Fault | undefined {
  const faults = deps.faults?.();
  return faults === undefined || faults.size === 0 ? undefined : faults.pick(service, matchPath, Date.now(), deps.random, deps.ownService);
}

/** What one protocol server does for a faulted request (built only when a fault hit). */
export interface FaultedRequest {
  method: string;
  authority: string;
  path: string;
  requestId: string;
  traceId: string;
  /** Forwards the request as if no fault had hit it (after a delay). */
  forward(): void;
  /** Whether the client has gone (closed its connection or stream) while the request was held. */
  clientGone(): boolean;
  /** Answers with the injected status and a mesh error body naming the fault; returns the body bytes sent. */
  answer(status: number, message: string): number;
  /** Cuts the request off without an answer (`--reset`). */
  reset(): void;
}

/**
 * Applies the fault that `pickFault` chose. A delay is counted when it starts, as Envoy counts delays_injected,
 * so a client that gives up while held still shows the fault biting; its request is then not forwarded.
 */
export function applyFault(deps: ProxyServerDeps, service: ServiceGate, fault: Fault, request: FaultedRequest): void {
  const action = fault.action;
  if ('delayMs' in action) {
    service.faultDelayed();
    setTimeout(() => { if (!request.clientGone()) request.forward(); }, action.delayMs);
    return;
  }
  const status = 'abort' in action ? action.abort : 0;
  service.refused('fault-injected', status);
  let sent = 0;
  if (status === 0) request.reset();
  else sent = request.answer(status, `fault ${fault.id} injected (${kindOf(fault)} ${status}, ${fault.percent}% of requests until ${new Date(fault.expiresAt).toISOString()})`);
  deps.accessLog?.record({
    method: request.method, authority: request.authority, path: request.path, status, error: 'fault-injected', durationMs: 0, upstream: null,
    bytesIn: 0, bytesOut: sent, requestId: request.requestId, traceId: request.traceId,
  });
}
