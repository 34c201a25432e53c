// The registry's /v1 API: a small route table, one handler per route. The contract is the one
// src/registry/client.ts speaks; documented in man/mesh.1 (REGISTRY API).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MeshError, ValidationError } from '../../core/errors.js';
import type { HealthState, Instance, ServiceSummary } from '../../core/types.js';
import { validateInstanceSpec, validateServiceName } from '../../core/validate.js';
import { CONFIG_ROUTES } from '../config/routes.js';
import { FAULT_ROUTES } from '../config/fault-routes.js';
import { readJsonBody, sendError, sendJson } from './json.js';
import type { ApiContext, Params, RequestUrl, Route } from './context.js';
import { openWatchStream } from './watch-stream.js';
import { IDENTITY_ROUTES } from '../identity/routes.js';

const SEG = '([^/]+)';
const ROUTES: Route[] = [
  { pattern: /^\/v1\/services$/, methods: { GET: listServices } },
  { pattern: new RegExp(`^/v1/services/${SEG}$`), methods: { GET: getService } },
  { pattern: new RegExp(`^/v1/services/${SEG}/instances/${SEG}$`), methods: { PUT: register, DELETE: deregister } },
  { pattern: new RegExp(`^/v1/services/${SEG}/instances/${SEG}/heartbeat$`), methods: { PUT: heartbeat } },
  { pattern: /^\/v1\/status$/, methods: { GET: status } },
  { pattern: /^\/v1\/watch$/, methods: { GET: watch } },
  ...CONFIG_ROUTES,
  ...FAULT_ROUTES,
  ...IDENTITY_ROUTES,
  { pattern: /^\/v1\/metrics$/, methods: { GET: metrics } },
];

export async function handleApiRequest(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestUrl(req.url ?? '/');
  for (const route of ROUTES) {
    const m = route.pattern.exec(url.pathname);
    if (m === null) continue;
    const handler = route.methods[req.method ?? ''];
    if (handler === undefined) {
      const allow = Object.keys(route.methods).join(', ');
      sendError(ctx.store, res, new MeshError('MESH_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${allow}`), { allow });
      return;
    }
    const params = m.slice(1).map(decodeSegment);
    if (req.method !== 'GET' && route.ownAuth !== true) ctx.authorize?.(req);
    await handler(ctx, req, res, params, url);
    return;
  }
  sendError(ctx.store, res, new MeshError('MESH_ERR_NOT_FOUND', `no API route ${url.pathname}; routes live under /v1`));
}

/**
 * A plain path (the registration and heartbeat calls: letters, digits, `-._~%/`, no dot segment) is used as it
 * came and its query parsed only if a handler asks; anything else goes through a WHATWG URL, which normalizes it.
 * A URL object per request was ~1 KiB and a few microseconds of a registration's cost.
 */
const PLAIN_PATH = /^\/(?:[A-Za-z0-9\-_~%]+(?:\.[A-Za-z0-9\-_~%]+)*\/?)*$/;

export function requestUrl(raw: string): RequestUrl {
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  // %2e is a dot to a URL parser ("%2e%2e" is a dot segment): such paths take the URL's way too.
  if (!PLAIN_PATH.test(pathname) || pathname.includes('%2') && /%2e/i.test(pathname)) return new URL(raw, 'http://registry');
  let params: URLSearchParams | undefined;
  return { pathname, get searchParams() { return (params ??= new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))); } };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new MeshError('MESH_ERR_BAD_REQUEST', `malformed URL segment "${s}"`);
  }
}

function listServices(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), services: summarizeServices(ctx.store.list()) });
}

function getService(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [service]: Params): void {
  validateServiceName(service); // a name that can never exist is a 400, not a 404
  const instances = ctx.store.listService(service!);
  if (instances.length === 0) throw new MeshError('MESH_ERR_NOT_FOUND', `no service "${service}" is registered`);
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), service, instances });
}

async function register(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, [service, id]: Params): Promise<void> {
  const body = await readJsonBody(req, res);
  if (body === undefined) throw new MeshError('MESH_ERR_INVALID_JSON', 'the registration body is empty: send a JSON object with at least "address"');
  validateServiceName(service);
  const spec = validateInstanceSpec(body, service, id);
  refuseIfDefinedInFile(ctx, spec.service, spec.id, 'replace');
  const instance = await ctx.store.upsert(spec);
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), instance });
}

async function deregister(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [service, id]: Params): Promise<void> {
  refuseIfDefinedInFile(ctx, service!, id!, 'deregister');
  const removed = await ctx.store.remove(service!, id!, 'deregistered');
  if (!removed) throw new MeshError('MESH_ERR_NOT_FOUND', `no instance "${id}" of service "${service}"`);
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), removed: true });
}

/** An instance from a --services-dir file belongs to its file: the API may heartbeat it, not replace or remove it. */
function refuseIfDefinedInFile(ctx: ApiContext, service: string, id: string, what: string): void {
  const file = ctx.store.get(service, id)?.definedIn;
  if (file !== undefined) throw new MeshError('MESH_ERR_DEFINED_IN_FILE', `cannot ${what} ${service}/${id}: it is defined in ${file}`);
}

const HEALTH_STATES = new Set<HealthState>(['passing', 'warning', 'critical']);

async function heartbeat(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, [service, id]: Params): Promise<void> {
  const body = (await readJsonBody(req, res)) ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body', 'the heartbeat body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'status' && k !== 'output') throw new ValidationError(k, `unknown field "${k}"`);
  if (b.status !== undefined && !HEALTH_STATES.has(b.status as HealthState)) {
    throw new ValidationError('status', 'status must be "passing", "warning" or "critical"');
  }
  if (b.output !== undefined && (typeof b.output !== 'string' || b.output.length > 4096)) {
    throw new ValidationError('output', 'output must be a string of at most 4096 characters');
  }
  const instance = await ctx.store.heartbeat(service!, id!, b.status as HealthState | undefined, b.output as string | undefined);
  if (instance === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `no instance "${id}" of service "${service}"; register it first`);
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), instance });
}

function status(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  const all = ctx.store.list();
  const services = new Set(all.map((i) => i.service)).size;
  sendJson(ctx.store, res, 200, {
    version: ctx.version,
    uptimeMs: Math.round(ctx.clock.monotonic() - ctx.startedAt),
    services,
    instances: all.length,
    listen: ctx.listen,
    watchers: ctx.hub.watchers,
    ...(ctx.dns === undefined ? {} : { dns: ctx.dns.address, dnsDomain: ctx.dns.domain }),
    ...ctx.store.status(),
  });
}

function watch(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, _params: Params, url: RequestUrl): void {
  const services = new Set<string>();
  for (const s of url.searchParams.getAll('service')) services.add(validateServiceName(s));
  const raw = url.searchParams.get('index') ?? headerValue(req.headers['last-event-id']);
  let sinceIndex: number | undefined;
  if (raw !== undefined && raw !== null && raw !== '') {
    if (!/^\d+$/.test(raw)) throw new ValidationError('index', `invalid index "${raw}": use the non-negative integer of the last event seen`);
    sinceIndex = Number(raw);
  }
  openWatchStream(ctx, req, res, { services, sinceIndex });
}

async function metrics(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Loaded on the first scrape: prom-client is not part of a daemon nobody scrapes.
  const { registryMetrics } = await import('./metrics.js');
  const { contentType, text } = await registryMetrics(ctx);
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** One row per service, sorted by name; `instances` must be sorted by service (as the store returns them). */
export function summarizeServices(instances: Instance[]): ServiceSummary[] {
  const byService = new Map<string, { summary: ServiceSummary; tags: Set<string> }>();
  for (const inst of instances) {
    let entry = byService.get(inst.service);
    if (entry === undefined) {
      entry = { summary: { service: inst.service, instances: 0, passing: 0, warning: 0, critical: 0, tags: [] }, tags: new Set() };
      byService.set(inst.service, entry);
    }
    entry.summary.instances++;
    entry.summary[inst.health]++;
    for (const [k, v] of Object.entries(inst.tags)) entry.tags.add(`${k}=${v}`);
  }
  return [...byService.values()]
    .map(({ summary, tags }) => ({ ...summary, tags: [...tags].sort() }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}
