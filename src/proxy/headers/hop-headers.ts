// Hop-by-hop header handling (RFC 9110 §7.6.1) for HTTP/1.1 in both directions: those headers, and the ones a
// Connection header names, apply to one connection only and are never forwarded. The request side also sets
// the X-Forwarded-* headers and applies the underscore rule (underscore-headers.ts).
import { hasUnderscore, type HeaderDropCounter } from './underscore-headers.js';

/** Response headers that are hop-by-hop (RFC 9110 §7.6.1) or that Node sets itself. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** 1 at the lengths of those names: other headers (Content-Type, Date…) are passed on without lower-casing. */
const HOP_LENGTHS = lengthsOf([...HOP_BY_HOP]);

/** Filters hop-by-hop headers (and those the Connection header names) from a raw upstream header list. */
export function filterResponseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (name.length > 19 || HOP_LENGTHS[name.length] === 0) { out.push(name, raw[i + 1]!.toString('latin1')); continue; }
    const lower = name.toLowerCase();
    if (lower === 'connection') named = namedHeaders(raw[i + 1]!.toString('latin1'), named);
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (named === undefined) return out;
  const keep: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.includes(out[i]!.toLowerCase())) keep.push(out[i]!, out[i + 1]!);
  return keep;
}

/**
 * The header names a Connection header lists, beyond those dropped anyway: `Connection: keep-alive` (what
 * most upstreams send on every response) and `close` then cost no second pass over the headers.
 */
function namedHeaders(value: string, named: string[] | undefined): string[] | undefined {
  const v = value.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return named;
  for (const token of v.split(/\s*,\s*/)) if (token !== '' && !HOP_BY_HOP.has(token) && token !== 'close') (named ??= []).push(token);
  return named;
}

/** A lookup table by name length (0..19), so a header whose length matches no interesting name is not lower-cased. */
export function lengthsOf(names: readonly string[]): Uint8Array {
  const t = new Uint8Array(20);
  for (const n of names) t[n.length] = 1;
  return t;
}

/**
 * Request headers that are hop-by-hop (HTTP2-Settings belongs to an `Upgrade: h2c`, which is never passed on:
 * upgrade.ts), or that undici refuses and Node has already dealt with (expect).
 */
const STRIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect']);
/** 1 at the lengths of the request header names upstreamHeaders looks at (STRIP, host, x-forwarded-*). */
const NAME_LENGTHS = lengthsOf([...STRIP, 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/**
 * The headers to send upstream, as undici's flat array: hop-by-hop ones (and those Connection names) dropped,
 * X-Forwarded-For appended, X-Forwarded-Proto/-Host set unless an earlier hop set them. For an absolute-form
 * request the URI's authority replaces Host (RFC 9112 §3.2.2). Returns an error string for two Host headers.
 * With `underscores` given, names containing '_' are dropped and counted there (underscore-headers.ts).
 */
export function upstreamHeaders(raw: string[], clientAddress: string | undefined, absoluteAuthority: string | undefined,
  underscores: HeaderDropCounter | undefined): string[] | string {
  const out: string[] = [];
  let host: string | undefined;
  let xff: string | undefined;
  let proto = false;
  let fwdHost = false;
  let named: string | undefined;
  let dropped = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (underscores !== undefined && hasUnderscore(name)) { dropped++; continue; }
    // Only names as long as one we act on are lower-cased: most headers (Accept, Cookie…) skip the copy.
    if (name.length > 19 || NAME_LENGTHS[name.length] === 0) { out.push(name, raw[i + 1]!); continue; }
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (host !== undefined) return 'the request has more than one Host header';
      host = raw[i + 1]!;
      continue;
    }
    if (lower === 'connection') { named = named === undefined ? raw[i + 1]! : `${named},${raw[i + 1]!}`; continue; }
    if (STRIP.has(lower)) continue;
    if (lower === 'x-forwarded-for') { xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`; continue; }
    if (lower === 'x-forwarded-proto') proto = true;
    else if (lower === 'x-forwarded-host') fwdHost = true;
    out.push(name, raw[i + 1]!);
  }
  if (dropped > 0) underscores!.underscoreHeadersDropped(dropped);
  let kept = out;
  if (named !== undefined) {
    // Only the client's own copies go: the X-Forwarded-* this hop adds below are the proxy's, not the client's
    // to remove (a `Connection: X-Forwarded-For` would otherwise hide the client's address from the upstream).
    const drop = named.toLowerCase().split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'host');
    if (drop.length > 0) {
      kept = [];
      for (let i = 0; i < out.length; i += 2) if (!drop.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
      if (drop.includes('x-forwarded-for')) xff = undefined;
      if (drop.includes('x-forwarded-proto')) proto = false;
      if (drop.includes('x-forwarded-host')) fwdHost = false;
    }
  }
  const authority = absoluteAuthority ?? host ?? '';
  kept.push('host', authority);
  const client = clientAddress ?? 'unknown';
  kept.push('x-forwarded-for', xff === undefined ? client : `${xff}, ${client}`);
  if (!proto) kept.push('x-forwarded-proto', 'http');
  if (!fwdHost) kept.push('x-forwarded-host', authority);
  return kept;
}
