// Authorization policy: which services may call which, optionally narrowed by method and path prefix.
// `evaluate` is pure: the sidecar calls it per request and `mesh authz test` calls it with no traffic at all.
//
// Semantics (as Istio's AuthorizationPolicy): for the destination service, deny rules are checked first, then
// allow rules; a destination the policy names is default-deny; a destination it does not name follows
// `defaultAction` (allow unless set to deny); no policy at all allows everything. Callers without a verified
// certificate (plaintext in --permissive mode) have no identity: only rules listing `unauthenticated` match
// them, and "*" means "any authenticated service".
import { normalizePath, pathHasPrefix } from './path.js';

export const ANY_SERVICE = '*';
export const UNAUTHENTICATED = 'unauthenticated';

export interface PolicyRule {
  /** Optional name shown in decisions and 403 bodies. */
  name?: string;
  /** Service names, "*" (any authenticated caller) or "unauthenticated". */
  from: string[];
  /** Upper-case HTTP methods; null = any method. */
  methods: string[] | null;
  /** Normalised path prefixes (segment-aware); null = any path. */
  paths: string[] | null;
}

export interface ServicePolicy { allow: PolicyRule[]; deny: PolicyRule[] }

export interface Policy {
  version: 1;
  /** What happens to a destination the policy does not name. */
  defaultAction: 'allow' | 'deny';
  services: Record<string, ServicePolicy>;
}

export interface AuthzRequest {
  /** The caller's service name from its verified certificate; null when unauthenticated. */
  from: string | null;
  to: string;
  method: string;
  /** The request target as received (it is normalised here). */
  path: string;
}

export interface Decision {
  allowed: boolean;
  /** The rule that decided, e.g. `services.orders.allow[0] "web-reads"` or `default-deny for orders`. */
  rule: string;
  /** The normalised path that was matched (null when malformed). */
  path: string | null;
}

export function ruleLabel(to: string, kind: 'allow' | 'deny', index: number, rule: PolicyRule): string {
  return `services.${to}.${kind}[${index}]${rule.name ? ` "${rule.name}"` : ''}`;
}

function fromMatches(rule: PolicyRule, from: string | null): boolean {
  for (const f of rule.from) {
    if (from === null) { if (f === UNAUTHENTICATED) return true; }
    else if (f === ANY_SERVICE || f === from) return true;
  }
  return false;
}

function ruleMatches(rule: PolicyRule, from: string | null, method: string, path: string | null): boolean {
  if (!fromMatches(rule, from)) return false;
  if (rule.methods !== null && !rule.methods.includes(method)) return false;
  if (rule.paths !== null) {
    if (path === null) return false; // a malformed path never matches a path-narrowed rule
    if (!rule.paths.some((p) => pathHasPrefix(path, p))) return false;
  }
  return true;
}

/** Decides one request. `policy` null means no policy is configured. */
export function evaluate(policy: Policy | null, req: AuthzRequest): Decision {
  if (policy === null) return { allowed: true, rule: 'no policy: allow all', path: null };
  const svc = policy.services[req.to];
  if (svc === undefined) {
    return policy.defaultAction === 'deny'
      ? { allowed: false, rule: `default-deny (defaultAction: deny; ${req.to} is not in the policy)`, path: null }
      : { allowed: true, rule: `${req.to} is not in the policy: allow all`, path: null };
  }
  const method = req.method.toUpperCase();
  const path = normalizePath(req.path);
  for (let i = 0; i < svc.deny.length; i++) {
    const rule = svc.deny[i]!;
    // A deny narrowed by paths also catches paths that cannot be decoded: refuse rather than guess.
    const hit = path === null && rule.paths !== null ? fromMatches(rule, req.from) && (rule.methods === null || rule.methods.includes(method)) : ruleMatches(rule, req.from, method, path);
    if (hit) return { allowed: false, rule: ruleLabel(req.to, 'deny', i, rule), path };
  }
  if (path === null) return { allowed: false, rule: `malformed path for ${req.to}: deny`, path };
  for (let i = 0; i < svc.allow.length; i++) {
    const rule = svc.allow[i]!;
    if (ruleMatches(rule, req.from, method, path)) return { allowed: true, rule: ruleLabel(req.to, 'allow', i, rule), path };
  }
  return { allowed: false, rule: `default-deny for ${req.to}`, path };
}
