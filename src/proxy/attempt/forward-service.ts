// What the forwarding path needs from the service a request goes to: the attempt controller (controller.ts)
// its pool, retry budget and metrics; the protocol servers (http1/, h2/, WebSocket) the lookup by name and the
// concurrency gate in front. Its own module so the controller, the servers, the service runtime that
// implements it and the inbound sidecar's one-endpoint app service can all name it without importing each other.
import type { BalancerEndpoint } from '../balancer/policy.js';
import type { MeshErrorCause } from '../errors-response.js';
import type { AccessLog } from '../../metrics/access-log.js';
import type { FailureKind } from './retry.js';
import type { HeaderDropCounter } from '../headers/underscore-headers.js';

/** What the forwarder needs from a service's endpoint pool (implemented in service-runtime.ts). */
export interface ForwardService {
  readonly name: string;
  /** Picks an eligible endpoint (avoiding `exclude` when it can), or returns why there is none. */
  pick(subset: Readonly<Record<string, string>> | undefined, hashKey: string | undefined, exclude: ReadonlySet<string> | undefined): BalancerEndpoint | MeshErrorCause;
  /** A try started / ended; `ok` false for connect errors, resets, timeouts and 5xx (outlier detection). */
  tryStarted(ep: BalancerEndpoint): void;
  tryEnded(ep: BalancerEndpoint, ok: boolean, latencyMs: number, status: number): void;
  /**
   * Once per request, as it ends: the body bytes sent to and relayed from the endpoint of its last try (the
   * only try that can have moved any, see EndpointStats.bodyBytes); the proxy's own error bodies are not counted.
   */
  bodyBytes?(ep: BalancerEndpoint, toEndpoint: number, fromEndpoint: number): void;
  /** A TLS handshake to a mesh TLS endpoint failed (bad certificate, wrong SPIFFE ID): counted per endpoint. */
  tlsHandshakeFailed?(ep: BalancerEndpoint): void;
  /** A connect to the endpoint failed (refused, timed out): it is unreachable until a probe connects. */
  connectFailed?(ep: BalancerEndpoint): void;
  /** Asks for one retry after a failure of this kind; false = the retry budget is spent. */
  takeRetry(kind: FailureKind): boolean;
  /**
   * The request is over (frees its concurrency slot, records metrics). `retried` = it took more than one try;
   * `budgetRefused` = a retry was wanted but the retry budget was spent.
   */
  requestEnded(status: number, latencyMs: number, retried: boolean, cause: MeshErrorCause | undefined, budgetRefused?: boolean): void;
}

/** What an access-log line needs beyond the request's own state (only built when the log is on). */
export interface AccessContext {
  log: AccessLog;
  authority: string;
  requestId: string;
  traceId: string;
}

/** Finds a service's runtime by name; undefined = the registry has never heard of it. */
export interface ServiceDirectory {
  get(service: string): (ForwardService & ServiceGate & HeaderDropCounter) | undefined;
}

/** The service-level gate in front of forwarding: the concurrency limit (circuit breaking). */
export interface ServiceGate {
  /** Takes a concurrency slot; false = at the limit (→ 503 circuit-open). requestEnded frees it. */
  admit(maxConcurrent: number | undefined): boolean;
  /** The request was refused before forwarding (for metrics); `status` is what the client got (0: reset). */
  refused(cause: 'circuit-open' | 'no-such-service' | 'fault-injected', status?: number): void;
  /** An injected delay fault holds this request before it is admitted (for metrics). */
  faultDelayed(): void;
}
