// `mesh routes explain`: a dry run of routing. Given a request (URL, method, headers), the proxy's current
// route table (a RoutesSnapshot) and its config, says which service and route rule the request matches, which
// endpoints are eligible and why each other one is not, and each eligible endpoint's chance of being picked
// under the service's policy (weighted over the rule's split subsets). Pure: no sockets, clock passed in.
//
// The proxy's admin server answers GET /explain?url=…&method=…&header=k:v (repeatable) with
//   explainRequest(parseExplainQuery(searchParams), snapshot, config, { clock, random })
// and the CLI falls back to running it locally over GET /routes when the proxy has no /explain.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RoutesEndpoint, RoutesSnapshot } from '../core/admin-types.js';
import type { Clock } from '../core/clock.js';
import { isMeshError, UsageError } from '../core/errors.js';
import { parseHeader } from '../core/header.js';
import { createPolicy } from './balancer/index.js';
import type { BalancerEndpoint } from './balancer/policy.js';
import { weightOf } from './balancer/weights.js';
import { settingsFor, type ProxyConfig } from '../config/proxy-config.js';
import { priorityLoads } from './pool/priority-load.js';
import { pathHasPrefix, tagsMatch, targetOf } from './router.js';
import { hasUnderscore } from './headers/underscore-headers.js';

export type ExclusionReason = 'critical' | 'warning' | 'ejected' | 'unreachable' | 'inactive-tier' | 'subset';

export interface ExplainEndpoint {
  id: string;
  address: string;
  priority: number;
  weight: number;
  health: RoutesEndpoint['health'];
  eligible: boolean;
  excludedBecause?: ExclusionReason;
  /** Epoch ms when an ejected endpoint returns. */
  ejectedUntil?: number;
  /** Epoch ms since which connects to it fail (it returns when a background probe connects). */
  unreachableSince?: number;
  /** Chance in [0,1] of being picked for this request (0 when not eligible). */
  chance: number;
}

export interface ExplainSubset {
  tags: Record<string, string>;
  /** Share of the rule's traffic this subset gets. */
  share: number;
  /** Lowest priority tier taking this subset's traffic, or null when no endpoint of it is healthy. */
  activeTier: number | null;
  /** Endpoints taking this subset's traffic, over every tier with a load. */
  eligible: number;
  /** Each tier's health and load in percent (priority-load.ts). */
  tiers: Array<{ priority: number; health: number; load: number }>;
}

export interface ExplainResult {
  method: string;
  authority: string;
  path: string;
  service: string | null;
  /** What the proxy would answer instead of forwarding, when it would not forward. */
  outcome: { forwarded: boolean; status?: number; code?: string; reason?: string };
  policy?: string;
  /**
   * What happens to request header names with an underscore (allowUnderscoresInHeaders), and which of the
   * request's headers would be dropped for it; absent when no service is known.
   */
  headerRules?: { underscores: 'dropped' | 'forwarded'; dropped: string[] };
  /** The matched rule: its index in the service's routes, prefix and headers; null when none (whole service). */
  route: { index: number; pathPrefix: string; headers: Record<string, string> } | null;
  subsets: ExplainSubset[];
  endpoints: ExplainEndpoint[];
  /** Share of requests that would find no eligible endpoint (503) because their subset has none. */
  unroutableShare: number;
  /** Where each of the service's settings comes from, and the central config version (GET /explain only). */
  settingSources?: { version: number; fields: Record<string, string> };
}

export interface ExplainInput {
  url: string;
  method: string;
  headers: ReadonlyArray<readonly [string, string]>;
}

/** Reads ?url=&method=&header=k:v… as sent by `mesh routes explain`. Throws UsageError on a bad query. */
export function parseExplainQuery(params: URLSearchParams): ExplainInput {
  const url = params.get('url');
  if (!url) throw new UsageError('explain needs ?url=<url of the request>');
  const headers = params.getAll('header').map((h) => parseHeader(h));
  return { url, method: (params.get('method') ?? 'GET').toUpperCase(), headers };
}

export function explainRequest(input: ExplainInput, snapshot: RoutesSnapshot, config: ProxyConfig, clock: Clock): ExplainResult {
  const header = (name: string) => input.headers.find(([k]) => k === name)?.[1];
  const target = targetOf(input.url, header('host'));
  if (typeof target === 'string') {
    return blank(input, '', input.url, null, { forwarded: false, status: 400, code: 'MESH_ERR_BAD_REQUEST', reason: target });
  }
  const base = (outcome: ExplainResult['outcome']) => blank(input, target.authority, target.path, target.service, outcome);
  if (target.service === null) {
    return base({ forwarded: false, status: 503, code: 'MESH_ERR_NO_SUCH_SERVICE', reason: `"${target.authority}" names no service` });
  }
  const svc = snapshot.services.find((s) => s.service === target.service);
  if (!svc) return base({ forwarded: false, status: 503, code: 'MESH_ERR_NO_SUCH_SERVICE', reason: `no service "${target.service}" in the registry` });
  const settings = settingsFor(config, svc.service);

  // The first matching rule, as the router would choose it (but every split subset, not one at random).
  let route: ExplainResult['route'] = null;
  let split: Array<{ tags: Record<string, string>; share: number }> = [{ tags: {}, share: 1 }];
  for (let i = 0; i < settings.routes.length; i++) {
    const rule = settings.routes[i]!;
    if (!pathHasPrefix(target.matchPath, rule.pathPrefix)) continue;
    if (!rule.headers.every(([k, v]) => header(k) === v)) continue;
    route = { index: i, pathPrefix: rule.pathPrefix, headers: Object.fromEntries(rule.headers) };
    if (rule.split.length > 0) split = rule.split.map((s) => ({ tags: { ...s.tags }, share: s.weight / rule.totalWeight }));
    break;
  }

  const now = clock.now();
  const usable = (e: RoutesEndpoint): ExclusionReason | undefined => {
    if (e.health === 'critical') return 'critical';
    if (e.health === 'warning' && !settings.healthyIncludesWarning) return 'warning';
    if (e.ejectedUntil !== undefined && e.ejectedUntil > now) return 'ejected';
    return undefined;
  };
  const healthy = (e: RoutesEndpoint): ExclusionReason | undefined => usable(e) ?? (e.unreachableSince !== undefined ? 'unreachable' : undefined);
  const chance = new Map<string, number>();
  const subsets: ExplainSubset[] = [];
  let unroutableShare = 0;
  const hashKey = settings.hashHeader === undefined ? undefined : header(settings.hashHeader);
  for (const s of split) {
    const members = svc.endpoints.filter((e) => tagsMatch(e.tags, s.tags));
    let up = members.filter((e) => healthy(e) === undefined);
    // The pool's panic rule: with only unreachable endpoints left, it tries them anyway.
    if (up.length === 0) up = members.filter((e) => usable(e) === undefined);
    const tiers = tierLoads(members, up);
    const active = tiers.filter((t) => t.load > 0);
    const eligible = up.filter((e) => active.some((t) => t.priority === e.priority));
    subsets.push({ tags: s.tags, share: s.share, activeTier: active[0]?.priority ?? null, eligible: eligible.length, tiers });
    if (eligible.length === 0) { unroutableShare += s.share; continue; }
    for (const tier of active) {
      const inTier = eligible.filter((e) => e.priority === tier.priority);
      const picks = tierChances(svc.service, svc.policy, inTier, hashKey, clock);
      for (const e of inTier) chance.set(e.id, (chance.get(e.id) ?? 0) + s.share * (tier.load / 100) * (picks.get(`${svc.service}/${e.id}`) ?? 0));
    }
  }

  const endpoints: ExplainEndpoint[] = svc.endpoints.map((e) => {
    const out: ExplainEndpoint = {
      id: e.id, address: e.address, priority: e.priority, weight: e.weight, health: e.health,
      eligible: chance.has(e.id), chance: round(chance.get(e.id) ?? 0),
    };
    if (!out.eligible) out.excludedBecause = healthy(e) ?? (split.some((s) => tagsMatch(e.tags, s.tags)) ? 'inactive-tier' : 'subset');
    if (e.ejectedUntil !== undefined && e.ejectedUntil > now) out.ejectedUntil = e.ejectedUntil;
    if (e.unreachableSince !== undefined) out.unreachableSince = e.unreachableSince;
    return out;
  });
  const outcome: ExplainResult['outcome'] = unroutableShare >= 1
    ? { forwarded: false, status: 503, code: 'MESH_ERR_NO_HEALTHY_ENDPOINT', reason: `no healthy endpoint of "${svc.service}"${route ? ' in the route\'s subsets' : ''}` }
    : { forwarded: true };
  const headerRules: ExplainResult['headerRules'] = settings.allowUnderscoresInHeaders
    ? { underscores: 'forwarded', dropped: [] }
    : { underscores: 'dropped', dropped: input.headers.filter(([k]) => hasUnderscore(k)).map(([k]) => k) };
  return { ...base(outcome), policy: svc.policy, headerRules, route, subsets, endpoints, unroutableShare: round(unroutableShare) };
}

/**
 * The admin server's GET /explain: `if (handleExplainRequest(req, res, { routes, config }, clock)) return;`
 * Returns false for other paths.
 */
export function handleExplainRequest(
  req: IncomingMessage, res: ServerResponse,
  source: { routes(): RoutesSnapshot; config(): ProxyConfig; settingSources?(service: string): ExplainResult['settingSources'] }, clock: Clock,
): boolean {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (url.pathname !== '/explain') return false;
  let status = 200;
  let body: unknown;
  if (req.method !== 'GET') {
    status = 405;
    body = { error: { code: 'MESH_ERR_METHOD_NOT_ALLOWED', message: `${req.method} /explain is not allowed; use GET` } };
  } else {
    try {
      const result = explainRequest(parseExplainQuery(url.searchParams), source.routes(), source.config(), clock);
      const sources = result.service === null ? undefined : source.settingSources?.(result.service);
      body = sources === undefined ? result : { ...result, settingSources: sources };
    } catch (err) {
      status = isMeshError(err) ? err.status : 500;
      body = { error: { code: isMeshError(err) ? err.code : 'MESH_ERR_INTERNAL', message: (err as Error).message } };
    }
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

/** Each tier's health and load, from the subset's registered and eligible endpoints (priority-load.ts). */
function tierLoads(members: readonly RoutesEndpoint[], up: readonly RoutesEndpoint[]): ExplainSubset['tiers'] {
  const priorities = [...new Set(members.map((e) => e.priority))].sort((a, b) => a - b);
  const weightIn = (list: readonly RoutesEndpoint[], p: number) => list.reduce((sum, e) => sum + (e.priority === p ? weightOf(e) : 0), 0);
  const health: number[] = [];
  const load: number[] = [];
  priorityLoads(priorities.map((p) => weightIn(up, p)), priorities.map((p) => weightIn(members, p)), health, load);
  return priorities.map((priority, i) => ({ priority, health: health[i]!, load: load[i]! }));
}

/** The chance of each endpoint of one tier under the service's policy (one answer when the hash key is known). */
function tierChances(service: string, policyName: string, eligible: readonly RoutesEndpoint[], hashKey: string | undefined, clock: Clock): Map<string, number> {
  const policy = createPolicy(policyName, { clock, random: Math.random });
  const views: BalancerEndpoint[] = eligible.map((e) => ({
    key: `${service}/${e.id}`, address: e.address, weight: e.weight, inFlight: e.inFlight, ewmaMs: e.ewmaMs ?? 0, ewmaStamp: clock.monotonic(),
  }));
  if (policyName === 'consistent-hash' && hashKey !== undefined) {
    // With the key known, the ring gives one answer.
    policy.update?.(views);
    return new Map([[policy.pick(views, { hashKey }).key, 1]]);
  }
  return policy.chances?.(views) ?? new Map(views.map((v) => [v.key, 1 / views.length]));
}

function blank(input: ExplainInput, authority: string, path: string, service: string | null, outcome: ExplainResult['outcome']): ExplainResult {
  return { method: input.method, authority, path, service, outcome, route: null, subsets: [], endpoints: [], unroutableShare: 0 };
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
