// Time-boxed fault injection: what a fault is, how a request to create one is checked, and the table a proxy
// matches requests against. A fault carries its absolute expiry (epoch ms), so every proxy stops applying it
// at the deadline by itself — with the CLI that created it gone, after a proxy restart, or with the registry
// down. (Proxies and registry compare wall clocks: keep hosts NTP-synced, as for certificates.)
import { ValidationError } from '../core/errors.js';
import { validateServiceName } from '../core/validate.js';
import { normalisePath, pathHasPrefix } from './route-rule.js';

export type FaultAction = { abort: number } | { reset: true } | { delayMs: number };

export interface Fault {
  id: string;
  service: string;
  /** Only requests whose path is under this prefix (segment-aware, as route rules); undefined = all. */
  route?: string;
  /**
   * Only requests from this calling service: applied by proxies that run with that service's certificate (their
   * identity); a proxy without one never applies it.
   */
  from?: string;
  action: FaultAction;
  /** Share of matching requests hit, 0 < percent ≤ 100. */
  percent: number;
  createdAt: number;
  expiresAt: number;
}

/** `--for` is capped so a forgotten fault cannot outlive the afternoon it was made in. */
export const MAX_FAULT_MS = 60 * 60_000;
export const MAX_LONG_FAULT_MS = 7 * 24 * 60 * 60_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (field: string, what: string): never => { throw new ValidationError(field, `${field} ${what}`); };

/**
 * Checks a fault request ({service, route?, abort?|reset?|delayMs?, percent, forMs, allowLong?}) and returns
 * the fault it makes, expiring `forMs` after `now`.
 */
export function faultFromRequest(body: unknown, id: string, now: number): Fault {
  if (!isObject(body)) fail('(top level)', 'must be an object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['service', 'route', 'from', 'abort', 'reset', 'delayMs', 'percent', 'forMs', 'allowLong'].includes(k)) fail(k, 'is not a known fault field');
  }
  const service = validateServiceName(b.service);
  const kinds = ['abort', 'reset', 'delayMs'].filter((k) => b[k] !== undefined && b[k] !== false);
  if (kinds.length !== 1) fail('action', 'must be exactly one of abort, reset or delay');
  let action: FaultAction;
  if (b.abort !== undefined) {
    if (typeof b.abort !== 'number' || !Number.isInteger(b.abort) || b.abort < 400 || b.abort > 599) fail('abort', 'must be an HTTP status from 400 to 599');
    action = { abort: b.abort as number };
  } else if (b.reset !== undefined) {
    if (b.reset !== true) fail('reset', 'must be true');
    action = { reset: true };
  } else {
    if (typeof b.delayMs !== 'number' || !Number.isInteger(b.delayMs) || b.delayMs < 1 || b.delayMs > 60_000) fail('delayMs', 'must be an integer from 1 to 60000 (ms)');
    action = { delayMs: b.delayMs as number };
  }
  if (typeof b.percent !== 'number' || !(b.percent > 0 && b.percent <= 100)) fail('percent', 'must be a number above 0 and at most 100');
  if (b.forMs === undefined) fail('forMs', 'is required: every fault expires (e.g. --for 5m)');
  const cap = b.allowLong === true ? MAX_LONG_FAULT_MS : MAX_FAULT_MS;
  if (typeof b.forMs !== 'number' || !Number.isInteger(b.forMs) || b.forMs < 1 || b.forMs > cap) {
    fail('forMs', b.allowLong === true ? `must be from 1 ms to 7 days` : 'must be from 1 ms to 1 h (pass --allow-long for up to 7 days)');
  }
  let route: string | undefined;
  if (b.route !== undefined) {
    if (typeof b.route !== 'string' || !b.route.startsWith('/')) fail('route', 'must be a path prefix starting with "/"');
    route = normalisePath(b.route as string);
  }
  let from: string | undefined;
  if (b.from !== undefined) {
    try { from = validateServiceName(b.from); } catch (err) { fail('from', (err as Error).message); }
  }
  return { id, service, ...(route === undefined ? {} : { route }), ...(from === undefined ? {} : { from }), action, percent: b.percent as number, createdAt: now, expiresAt: now + (b.forMs as number) };
}

/** Checks a stored fault list (the central config's `faults`). */
export function validateFaults(v: unknown): Fault[] {
  if (!Array.isArray(v)) fail('faults', 'must be a list');
  return (v as unknown[]).map((f, i) => {
    if (!isObject(f) || typeof f.id !== 'string' || typeof f.expiresAt !== 'number' || typeof f.createdAt !== 'number') fail(`faults[${i}]`, 'is not a fault');
    const x = f as unknown as Fault;
    const action = x.action as Record<string, unknown>;
    const request = { service: x.service, percent: x.percent, forMs: 1, allowLong: true, ...(x.route === undefined ? {} : { route: x.route }), ...(x.from === undefined ? {} : { from: x.from }), ...(isObject(action) ? action : {}) };
    faultFromRequest(request, x.id, 0);
    return x;
  });
}

export function kindOf(f: Fault): 'abort' | 'reset' | 'delay' {
  return 'abort' in f.action ? 'abort' : 'reset' in f.action ? 'reset' : 'delay';
}

/** The faults a proxy applies, by service; `pick` is on the request path, so it allocates nothing. */
export class FaultTable {
  private readonly byService = new Map<string, Fault[]>();

  constructor(faults: readonly Fault[]) {
    for (const f of faults) {
      let list = this.byService.get(f.service);
      if (list === undefined) this.byService.set(f.service, (list = []));
      list.push(f);
    }
  }

  get size(): number { return this.byService.size; }

  /**
   * The fault to apply to this request, if any: the first live one whose route and caller match and whose dice
   * hit. `caller` is this proxy's own service (its certificate's), undefined without one.
   */
  pick(service: string, matchPath: string, now: number, random: () => number, caller?: string): Fault | undefined {
    const list = this.byService.get(service);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (now >= f.expiresAt) continue;
      if (f.route !== undefined && !pathHasPrefix(matchPath, f.route)) continue;
      if (f.from !== undefined && f.from !== caller) continue;
      if (random() * 100 < f.percent) return f;
    }
    return undefined;
  }
}

export const EMPTY_FAULTS = new FaultTable([]);
