// Header rules for HTTP/2 through the proxy: what goes upstream (no pseudo-headers, no connection-specific
// fields, X-Forwarded-* as for HTTP/1.1) and what comes back to the client (responses and trailers).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { hasUnderscore, type HeaderDropCounter } from '../headers/underscore-headers.js';

/** Connection-specific fields, which HTTP/2 forbids (RFC 9113 §8.2.2); Node throws on most of them. */
export const H2_CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * The client's headers as a flat list for upstream: no pseudo-headers, no connection-specific ones (`te`
 * only as `trailers`, which gRPC requires), X-Forwarded-For appended, X-Forwarded-Proto/-Host set unless an
 * earlier hop set them — the same rules as HTTP/1.1 (server.ts upstreamHeaders), underscores included: with
 * `underscores` given, names containing '_' are dropped and counted there.
 */
export function forwardedHeaders(headers: IncomingHttpHeaders, clientAddress: string | undefined, authority: string,
  underscores: HeaderDropCounter | undefined): string[] {
  const out: string[] = [];
  let xff: string | undefined;
  let proto = false;
  let fwdHost = false;
  let dropped = 0;
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* : */ || H2_CONNECTION_HEADERS.has(name)) continue;
    if (underscores !== undefined && hasUnderscore(name)) { dropped++; continue; }
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'te') {
      if (value === 'trailers') out.push(name, value);
      continue;
    }
    if (name === 'x-forwarded-for') { xff = Array.isArray(value) ? value.join(', ') : value; continue; }
    if (name === 'x-forwarded-proto') proto = true;
    else if (name === 'x-forwarded-host') fwdHost = true;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  if (dropped > 0) underscores!.underscoreHeadersDropped(dropped);
  const client = clientAddress ?? 'unknown';
  out.push('x-forwarded-for', xff === undefined ? client : `${xff}, ${client}`);
  if (!proto) out.push('x-forwarded-proto', 'http');
  if (!fwdHost) out.push('x-forwarded-host', authority);
  return out;
}

/** Upstream headers or trailers for the client: no pseudo-headers but `:status`, no connection-specific ones. */
export function filterH2Headers(headers: IncomingHttpHeaders, response: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* : */) {
      if (response && name === ':status') out[name] = headers[name];
      continue;
    }
    if (H2_CONNECTION_HEADERS.has(name) || name === 'te') continue;
    out[name] = headers[name];
  }
  return out;
}

/** Upstream request headers: the pseudo-headers, then the flat list from forwardedHeaders (repeats kept). */
export function requestHeaders(method: string, path: string, authority: string, flat: readonly string[]): OutgoingHttpHeaders {
  const upstream: OutgoingHttpHeaders = { ':method': method, ':path': path, ':authority': authority, ':scheme': 'http' };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    const prev = upstream[name];
    upstream[name] = prev === undefined ? flat[i + 1]! : Array.isArray(prev) ? [...prev, flat[i + 1]!] : [String(prev), flat[i + 1]!];
  }
  return upstream;
}
