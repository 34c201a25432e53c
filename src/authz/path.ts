// Request paths as the policy sees them. An attacker picks the spelling, so every spelling of a path must reach
// the same answer: the path is decoded (repeatedly, so %252e is caught too), backslashes count as slashes,
// ";params" are dropped from segments, empty and "." segments vanish and ".." pops. The result is what the
// policy matches; a path that cannot be decoded, or holds a NUL, is malformed and never allowed by a rule.

const MAX_DECODE_ROUNDS = 4;

/** The normalised path, or null when the path is malformed. Query and fragment are not part of it. */
export function normalizePath(raw: string): string | null {
  let path = raw;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    // absolute-form request target: only its path counts
    const slash = path.indexOf('/', path.indexOf('//') + 2);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  for (let round = 0; round < MAX_DECODE_ROUNDS && path.includes('%'); round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      // Undecodable as received: malformed. Undecodable after a round: a literal '%' ("50%25"), keep it.
      if (round === 0) return null;
      break;
    }
    if (decoded === path) break;
    path = decoded;
  }
  if (/%[0-9a-f]{2}/i.test(path) && path !== safeDecode(path)) return null; // still encoded after the rounds: refuse
  if (path.includes('\0')) return null;
  const out: string[] = [];
  const segments = path.replace(/\\/g, '/').split('/');
  for (const raw of segments) {
    const seg = raw.split(';', 1)[0]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') { out.pop(); continue; }
    out.push(seg);
  }
  const trailing = out.length > 0 && /[/\\]$/.test(path);
  return `/${out.join('/')}${trailing ? '/' : ''}`;
}

/**
 * Segment-aware prefix match: "/orders" covers "/orders" and "/orders/1" but not "/orders-admin";
 * "/" covers everything. Both sides are normalised paths.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (prefix.endsWith('/')) return path.startsWith(prefix) || path === prefix.slice(0, -1);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}
