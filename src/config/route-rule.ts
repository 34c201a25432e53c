// A route rule after validation, and the path normalisation that both the config schema (prefixes) and the
// router (request paths) apply, so a rule and a request are compared in the same spelling.

/** A route rule after validation (see proxy-config.ts for the file format). */
export interface RouteRule {
  /** Normalised path prefix the request path must start with ("/" matches all). */
  pathPrefix: string;
  /** Lower-cased header name → exact value; all must match. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Weighted subsets by tag; empty = the whole service. Weights are relative. */
  split: ReadonlyArray<{ tags: Readonly<Record<string, string>>; weight: number }>;
  /** Sum of the split weights (precomputed). */
  totalWeight: number;
  /** Retry non-idempotent methods on this route too (when the body has not been sent). */
  retryable: boolean;
}

/**
 * Normalises a path so every spelling of it matches rules the same way: percent-encoded unreserved characters
 * are decoded (so `%2e%2e` is `..`), hex in the remaining escapes is upper-cased (an encoded `/` stays `%2F`, as
 * Envoy does by default), repeated slashes merge, and `.`/`..` segments are resolved (never above the root).
 */
export function normalisePath(raw: string): string {
  let p = raw;
  if (p.indexOf('%') >= 0) p = p.replace(/%([0-9a-fA-F]{2})/g, decodeUnreserved);
  if (p.indexOf('//') < 0 && p.indexOf('/.') < 0 && p.charCodeAt(0) === 47) return p; // the common case
  const out: string[] = [];
  const parts = p.split('/');
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '' || seg === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

function decodeUnreserved(_m: string, hex: string): string {
  const c = parseInt(hex, 16);
  const unreserved = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
  return unreserved ? String.fromCharCode(c) : `%${hex.toUpperCase()}`;
}

/** Whether an instance's tags include every key=value of a split subset. */
export function tagsMatch(tags: Readonly<Record<string, string>>, subset: Readonly<Record<string, string>>): boolean {
  for (const k in subset) if (tags[k] !== subset[k]) return false;
  return true;
}

/** Whether a normalised path is under a prefix, on a segment boundary when the prefix has no trailing slash. */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47;
}
