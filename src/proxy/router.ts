// Request → service + route rule. Pure: no sockets, no registry, randomness passed in.
// The service comes from the registry's namespace only: an absolute-form URI or Host header names a service,
// never an address to dial, so `GET http://evil:25/x` can only ever reach a registered `evil` service.
import type { Random } from '../core/clock.js';

// The rule type and path normalisation live with the config schema (src/config), shared with the registry.
import { normalisePath, pathHasPrefix, tagsMatch, type RouteRule } from '../config/route-rule.js';
export { normalisePath, pathHasPrefix, tagsMatch, type RouteRule } from '../config/route-rule.js';

export interface Target {
  /** The service name, or null when the authority names no service (→ 503 no such service). */
  service: string | null;
  /** The authority as the client sent it (for X-Forwarded-Host). */
  authority: string;
  /** Normalised path plus the original query string. */
  path: string;
  /** Normalised path without query, for matching. */
  matchPath: string;
}

const SERVICE_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** "orders", "orders.mesh", "Orders.Mesh:8080" → "orders"; anything else → null. */
export function serviceFromAuthority(authority: string): string | null {
  let host = authority;
  if (host.charCodeAt(0) === 91 /* [ */) return null; // an IPv6 literal names no service
  const colon = host.lastIndexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  host = host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.endsWith('.mesh')) host = host.slice(0, -5);
  return host.length <= 63 && SERVICE_LABEL.test(host) ? host : null;
}

/**
 * Works out the target of a request from its request-target (`req.url`) and Host header. Returns a string
 * naming what is wrong when the request is malformed (→ 400).
 */
export function targetOf(url: string, host: string | undefined): Target | string {
  let authority: string;
  let rest: string;
  if (url.charCodeAt(0) === 47 /* / */) {
    if (host === undefined || host === '') return 'the request has no Host header';
    authority = host;
    rest = url;
  } else {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
    if (m === null) return `unsupported request target "${url.slice(0, 100)}"`;
    if (m[1]!.toLowerCase() !== 'http') return `only http:// absolute URIs can be proxied, not ${m[1]}://`;
    authority = m[2]!.replace(/^.*@/, ''); // userinfo is never forwarded
    rest = m[3] === '' ? '/' : m[3]!;
    if (rest.charCodeAt(0) !== 47) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const rawPath = q < 0 ? rest : rest.slice(0, q);
  const matchPath = normalisePath(rawPath);
  const path = q < 0 ? matchPath : matchPath + rest.slice(q);
  return { service: serviceFromAuthority(authority), authority, path, matchPath };
}



export interface RouteChoice {
  rule: RouteRule | undefined;
  /** Tags the chosen subset must carry; undefined = any endpoint of the service. */
  subset: Readonly<Record<string, string>> | undefined;
}

const NO_RULE: RouteChoice = { rule: undefined, subset: undefined };

/**
 * The first rule whose path prefix and headers match, and the subset its weighted split lands on.
 * `header(name)` returns the request's header value (lower-cased name).
 */
export function chooseRoute(rules: readonly RouteRule[], matchPath: string, header: (name: string) => string | undefined, random: Random): RouteChoice {
  for (const rule of rules) {
    if (!pathHasPrefix(matchPath, rule.pathPrefix)) continue;
    let ok = true;
    for (const [name, value] of rule.headers) {
      if (header(name) !== value) { ok = false; break; }
    }
    if (!ok) continue;
    if (rule.split.length === 0) return { rule, subset: undefined };
    if (rule.split.length === 1) return { rule, subset: rule.split[0]!.tags };
    let r = random() * rule.totalWeight;
    for (const s of rule.split) {
      r -= s.weight;
      if (r < 0) return { rule, subset: s.tags };
    }
    return { rule, subset: rule.split[rule.split.length - 1]!.tags };
  }
  return NO_RULE;
}

