// What a span says about its request: OpenTelemetry semantic-convention attributes (HTTP, gRPC, network)
// plus mesh ones, built when a span is encoded or shown — never on the request path.
import { SpanKind, type Span } from './span.js';

export type AttributeValue = string | number | boolean;
export type Attribute = readonly [key: string, value: AttributeValue];

/** OTLP Status.code values. */
export const StatusCode = { unset: 0, ok: 1, error: 2 } as const;

/**
 * How the request ended, in the words of the metrics' fates (mesh_requests_total{fate}): ok, okAfterRetry,
 * failed, retryBudgetExhausted, timeout, noHealthyEndpoint, circuitOpen, or clientClosed.
 */
export function fateOf(span: Span): string {
  if (span.cause === 'client-closed') return 'clientClosed';
  if (span.cause === undefined) return span.tries.length > 1 ? 'okAfterRetry' : 'ok';
  if (span.cause === 'upstream-timeout') return 'timeout';
  if (span.cause === 'no-healthy-endpoint') return 'noHealthyEndpoint';
  if (span.cause === 'circuit-open') return 'circuitOpen';
  return 'failed';
}

/** Whether the span's status is ERROR: a mesh error cause, a 5xx, or a non-OK gRPC status. */
export function isError(span: Span): boolean {
  if (span.cause !== undefined && span.cause !== 'client-closed') return true;
  if (span.status >= 500) return true;
  return span.grpc && span.grpcStatus !== undefined && span.grpcStatus !== '0';
}

/** The span's name per the conventions: `{rpc.service}/{rpc.method}` for gRPC, the HTTP method otherwise. */
export function spanName(span: Span): string {
  if (span.grpc) { const rpc = rpcOf(span.path); if (rpc !== undefined) return `${rpc.service}/${rpc.method}`; }
  return span.method;
}

export function spanAttributes(span: Span): Attribute[] {
  const a: Attribute[] = [
    ['http.request.method', span.method],
    ['url.path', pathOnly(span.path)],
    ['network.protocol.name', 'http'],
    ['network.protocol.version', span.protocol],
    ['server.address', span.service],
  ];
  const endpoint = span.endpoint;
  const ep = endpoint === undefined ? undefined : splitHostPort(endpoint);
  if (span.kind === SpanKind.client && ep !== undefined) {
    a.push(['server.port', ep.port], ['network.peer.address', ep.host], ['network.peer.port', ep.port]);
  }
  if (span.kind === SpanKind.server && span.peerAddress !== undefined) a.push(['network.peer.address', span.peerAddress]);
  if (span.status > 0) a.push(['http.response.status_code', span.status]);
  if (span.grpc) {
    a.push(['rpc.system', 'grpc']);
    const rpc = rpcOf(span.path);
    if (rpc !== undefined) a.push(['rpc.service', rpc.service], ['rpc.method', rpc.method]);
    if (span.grpcStatus !== undefined) a.push(['rpc.grpc.status_code', Number(span.grpcStatus)]);
  }
  const errorType = span.cause ?? (span.status >= 500 ? String(span.status) : undefined);
  if (errorType !== undefined && errorType !== 'client-closed') a.push(['error.type', errorType]);
  a.push(['mesh.service', span.service]);
  if (endpoint !== undefined) a.push(['mesh.endpoint', endpoint]);
  a.push(['mesh.tries', span.tries.length], ['mesh.retries', Math.max(0, span.tries.length - 1)], ['mesh.fate', fateOf(span)]);
  if (span.cause !== undefined) a.push(['mesh.error.cause', span.cause]);
  if (span.callerId !== undefined) a.push(['mesh.caller.spiffe_id', span.callerId]);
  if (span.requestId !== undefined) a.push(['mesh.request_id', span.requestId]);
  return a;
}

/** `/pkg.Service/Method` → { service: 'pkg.Service', method: 'Method' }. */
export function rpcOf(path: string): { service: string; method: string } | undefined {
  const p = pathOnly(path);
  const slash = p.indexOf('/', 1);
  if (p.charCodeAt(0) !== 47 || slash < 2 || slash === p.length - 1) return undefined;
  return { service: p.slice(1, slash), method: p.slice(slash + 1) };
}

/** The path without its query: url.query is left out, as query strings often carry tokens. */
function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function splitHostPort(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return undefined;
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port)) return undefined;
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port };
}
