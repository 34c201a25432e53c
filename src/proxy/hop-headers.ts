// Hop-by-hop header handling (RFC 9110 §7.6.1) for responses coming back from an upstream: those headers, and
// the ones a Connection header names, apply to one connection only and are never forwarded.

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
