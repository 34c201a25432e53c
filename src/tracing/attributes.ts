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
  if (span.cause === undefined) return span.tryCount > 1 ? 'okAfterRetry' : 'ok';
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

/**
 * Receives a span's attributes one by one: the OTLP encoder writes each straight into its buffer, so encoding
 * a span builds no attribute array (spanAttributes() collects them for the admin API's JSON).
 */
export interface AttributeVisitor {
  str(key: string, value: string): void;
  int(key: string, value: number): void;
}

/** `shapeAttributes`: how the block in the middle is produced (the OTLP encoder copies it when it has it). */
export function visitAttributes(span: Span, v: AttributeVisitor, shapeAttributes: (span: Span, v: AttributeVisitor) => void = visitShapeAttributes): void {
  v.str('http.request.method', span.method);
  v.str('url.path', pathOnly(span.path));
  shapeAttributes(span, v);
  if (span.requestId !== undefined) v.str('mesh.request_id', span.requestId);
}

/**
 * The attributes between url.path and mesh.request_id. They depend only on the fields AttributeShape compares,
 * which repeat from request to request (a service has a few endpoints, most answers are alike), so the OTLP
 * encoder keeps their bytes per shape (otlp.ts). A field read here must be compared there.
 */
export function visitShapeAttributes(span: Span, v: AttributeVisitor): void {
  v.str('network.protocol.name', 'http');
  v.str('network.protocol.version', span.protocol);
  v.str('server.address', span.service);
  const endpoint = span.endpoint;
  const ep = endpoint === undefined ? undefined : splitHostPort(endpoint);
  if (span.kind === SpanKind.client && ep !== undefined) {
    v.int('server.port', ep.port); v.str('network.peer.address', ep.host); v.int('network.peer.port', ep.port);
  }
  if (span.kind === SpanKind.server && span.peerAddress !== undefined) v.str('network.peer.address', span.peerAddress);
  if (span.status > 0) v.int('http.response.status_code', span.status);
  if (span.grpc) {
    v.str('rpc.system', 'grpc');
    const rpc = rpcOf(span.path);
    if (rpc !== undefined) { v.str('rpc.service', rpc.service); v.str('rpc.method', rpc.method); }
    if (span.grpcStatus !== undefined) v.int('rpc.grpc.status_code', Number(span.grpcStatus));
  }
  const errorType = span.cause ?? (span.status >= 500 ? String(span.status) : undefined);
  if (errorType !== undefined && errorType !== 'client-closed') v.str('error.type', errorType);
  v.str('mesh.service', span.service);
  if (endpoint !== undefined) v.str('mesh.endpoint', endpoint);
  const tries = span.tryCount;
  v.int('mesh.tries', tries); v.int('mesh.retries', Math.max(0, tries - 1)); v.str('mesh.fate', fateOf(span));
  if (span.cause !== undefined) v.str('mesh.error.cause', span.cause);
  if (span.callerId !== undefined) v.str('mesh.caller.spiffe_id', span.callerId);
}

/** What visitShapeAttributes reads of a span: two spans alike in all of it have the same shape attributes. */
export class AttributeShape {
  private kind = 0;
  private protocol = '';
  private service = '';
  private endpoint: string | undefined = undefined;
  private peerAddress: string | undefined = undefined;
  private status = -1;
  private grpc = false;
  /** The path, for gRPC only (rpc.service and rpc.method come from it); '' otherwise. */
  private rpcPath = '';
  private grpcStatus: string | undefined = undefined;
  private cause: string | undefined = undefined;
  private tries = -1;
  private callerId: string | undefined = undefined;

  matches(span: Span): boolean {
    return this.kind === span.kind && this.status === span.status && this.tries === span.tryCount && this.endpoint === span.endpoint
      && this.service === span.service && this.protocol === span.protocol && this.peerAddress === span.peerAddress
      && this.cause === span.cause && this.callerId === span.callerId && this.grpc === span.grpc
      && (!span.grpc || (this.rpcPath === span.path && this.grpcStatus === span.grpcStatus));
  }

  take(span: Span): void {
    this.kind = span.kind; this.status = span.status; this.tries = span.tryCount; this.endpoint = span.endpoint;
    this.service = span.service; this.protocol = span.protocol; this.peerAddress = span.peerAddress;
    this.cause = span.cause; this.callerId = span.callerId; this.grpc = span.grpc;
    this.rpcPath = span.grpc ? span.path : ''; this.grpcStatus = span.grpc ? span.grpcStatus : undefined;
  }
}

export function spanAttributes(span: Span): Attribute[] {
  const a: Attribute[] = [];
  const push = (key: string, value: AttributeValue): void => { a.push([key, value]); };
  visitAttributes(span, { str: push, int: push });
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

// Endpoint addresses repeat (a service has a few), so their split is cached; bounded, cleared when full.
const hostPorts = new Map<string, { host: string; port: number } | undefined>();

function splitHostPort(address: string): { host: string; port: number } | undefined {
  const known = hostPorts.get(address);
  if (known !== undefined || hostPorts.has(address)) return known;
  if (hostPorts.size >= 1024) hostPorts.clear();
  const split = parseHostPort(address);
  hostPorts.set(address, split);
  return split;
}

function parseHostPort(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return undefined;
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port)) return undefined;
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port };
}
