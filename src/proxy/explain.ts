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
import { settingsFor, type ProxyConfig } from './config.js';
import { pathHasPrefix, tagsMatch, targetOf } from './router.js';

export type ExclusionReason = 'critical' | 'warning' | 'ejected' | 'inactive-tier' | 'subset';

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
  /** Chance in [0,1] of being picked for this request (0 when not eligible). */
  chance: number;
}

export interface ExplainSubset {
  tags: Record<string, string>;
  /** Share of the rule's traffic this subset gets. */
  share: number;
  /** Priority tier taking this subset's traffic, or null when no endpoint of it is healthy. */
  activeTier: number | null;
  eligible: number;
}

export interface ExplainResult {
  method: string;
  authority: string;
  path: string;
  service: string | null;
  /** What the proxy would answer instead of forwarding, when it would not forward. */
  outcome: { forwarded: boolean; status?: number; code?: string; reason?: string };
  policy?: string;
  /** The matched rule: its index in the service's routes, prefix and headers; null when none (whole service). */
  route: { index: number; pathPrefix: string; headers: Record<string, string> } | null;
  subsets: ExplainSubset[];
  endpoints: ExplainEndpoint[];
  /** Share of requests that would find no eligible endpoint (503) because their subset has none. */
  unroutableShare: number;
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
  const healthy = (e: RoutesEndpoint): ExclusionReason | undefined => {
    if (e.health === 'critical') return 'critical';
    if (e.health === 'warning' && !settings.healthyIncludesWarning) return 'warning';
    if (e.ejectedUntil !== undefined && e.ejectedUntil > now) return 'ejected';
    return undefined;
  };
  const chance = new Map<string, number>();
  const subsets: ExplainSubset[] = [];
  let unroutableShare = 0;
  const policy = createPolicy(svc.policy, { clock, random: Math.random });
  const hashKey = settings.hashHeader === undefined ? undefined : header(settings.hashHeader);
  for (const s of split) {
    const members = svc.endpoints.filter((e) => tagsMatch(e.tags, s.tags));
    const up = members.filter((e) => healthy(e) === undefined);
    const activeTier = up.length === 0 ? null : Math.min(...up.map((e) => e.priority));
    const eligible = up.filter((e) => e.priority === activeTier);
    subsets.push({ tags: s.tags, share: s.share, activeTier, eligible: eligible.length });
    if (eligible.length === 0) { unroutableShare += s.share; continue; }
    const views: BalancerEndpoint[] = eligible.map((e) => ({
      key: `${svc.service}/${e.id}`, address: e.address, weight: e.weight, inFlight: e.inFlight, ewmaMs: e.ewmaMs ?? 0, ewmaStamp: clock.monotonic(),
    }));
    let picks: Map<string, number>;
    if (svc.policy === 'consistent-hash' && hashKey !== undefined) {
      // With the key known, the ring gives one answer.
      policy.update?.(views);
      picks = new Map([[policy.pick(views, { hashKey }).key, 1]]);
    } else {
      picks = policy.chances?.(views) ?? new Map(views.map((v) => [v.key, 1 / views.length]));
    }
    for (const e of eligible) chance.set(e.id, (chance.get(e.id) ?? 0) + s.share * (picks.get(`${svc.service}/${e.id}`) ?? 0));
  }

  const endpoints: ExplainEndpoint[] = svc.endpoints.map((e) => {
    const out: ExplainEndpoint = {
      id: e.id, address: e.address, priority: e.priority, weight: e.weight, health: e.health,
      eligible: chance.has(e.id), chance: round(chance.get(e.id) ?? 0),
    };
    if (!out.eligible) out.excludedBecause = healthy(e) ?? (split.some((s) => tagsMatch(e.tags, s.tags)) ? 'inactive-tier' : 'subset');
    if (e.ejectedUntil !== undefined && e.ejectedUntil > now) out.ejectedUntil = e.ejectedUntil;
    return out;
  });
  const outcome: ExplainResult['outcome'] = unroutableShare >= 1
    ? { forwarded: false, status: 503, code: 'MESH_ERR_NO_HEALTHY_ENDPOINT', reason: `no healthy endpoint of "${svc.service}"${route ? ' in the route\'s subsets' : ''}` }
    : { forwarded: true };
  return { ...base(outcome), policy: svc.policy, route, subsets, endpoints, unroutableShare: round(unroutableShare) };
}

/**
 * The admin server's GET /explain: `if (handleExplainRequest(req, res, { routes, config }, clock)) return;`
 * Returns false for other paths.
 */
export function handleExplainRequest(
  req: IncomingMessage, res: ServerResponse, source: { routes(): RoutesSnapshot; config(): ProxyConfig }, clock: Clock,
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
      body = explainRequest(parseExplainQuery(url.searchParams), source.routes(), source.config(), clock);
    } catch (err) {
      status = isMeshError(err) ? err.status : 500;
      body = { error: { code: isMeshError(err) ? err.code : 'MESH_ERR_INTERNAL', message: (err as Error).message } };
    }
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

function blank(input: ExplainInput, authority: string, path: string, service: string | null, outcome: ExplainResult['outcome']): ExplainResult {
  return { method: input.method, authority, path, service, outcome, route: null, subsets: [], endpoints: [], unroutableShare: 0 };
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
