// The central config's API under /v1/config (the contract src/registry/client.ts speaks; man/mesh.1 REGISTRY
// API). Writes go through the store's updateConfig, so a write is validated against the version it replaces
// and an invalid one changes nothing. Every write needs the admin token when the registry has one (the route
// table authorizes every method but GET).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  applyProxyDocument, deleteService, diffCentral, validateCentral, EMPTY_CENTRAL,
  type CentralConfig, type EntryDiff, type JsonObject, type ProxyDocument,
} from '../../config/central.js';
import { parseConfig } from '../../config/proxy-config.js';
import { tagsMatch } from '../../config/route-rule.js';
import { MeshError, ValidationError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { ApiContext, RequestUrl, Route } from '../api/context.js';
import { readJsonBody, sendJson } from '../api/json.js';
import type { RegistryStore } from '../store/store.js';
import { openEventStream } from '../api/watch-stream.js';
import type { ConfigVersion } from './history.js';

const SEG = '([^/]+)';
export const CONFIG_ROUTES: Route[] = [
  { pattern: /^\/v1\/config$/, methods: { GET: getConfig, PUT: applyConfig } },
  { pattern: new RegExp(`^/v1/config/services/${SEG}$`), methods: { GET: getServiceEntry, DELETE: deleteServiceEntry } },
  { pattern: /^\/v1\/config\/history$/, methods: { GET: history } },
  { pattern: /^\/v1\/config\/rollback$/, methods: { POST: rollback } },
  { pattern: /^\/v1\/config\/watch$/, methods: { GET: watch } },
];

/** The body of a config answer and of a watch event: the version in force (0 and empty when none). */
export function versionBody(v: ConfigVersion | undefined): { version: number; at: number | null; change: string | null; config: CentralConfig } {
  return v === undefined ? { version: 0, at: null, change: null, config: EMPTY_CENTRAL } : { version: v.version, at: v.at, change: v.change, config: v.config };
}

function getConfig(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(ctx.store, res, 200, { index: ctx.store.currentIndex(), ...versionBody(ctx.store.config.current()) });
}

/** GET /v1/config/services/:service[?version=N]: the entry in force, or as it was at a kept version. */
function getServiceEntry(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [service]: string[], url: RequestUrl): void {
  validateServiceName(service);
  const at = url.searchParams.get('version');
  if (at !== null && !/^\d+$/.test(at)) throw new ValidationError('version', `invalid version "${at}": use a version from \`mesh config history\``);
  const current = at === null ? ctx.store.config.current() : ctx.store.config.get(Number(at));
  if (at !== null && current === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `version ${at} is not in the kept history`, { hint: 'list the versions with `mesh config history`' });
  const entry = current?.config.proxy.services?.[service!];
  if (entry === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `the central config has no entry for service "${service}"`, { hint: 'list the entries with `mesh config get`' });
  sendJson(ctx.store, res, 200, { version: current!.version, service, entry, defaults: current!.config.proxy.defaults ?? null });
}

/**
 * PUT /v1/config[?dryRun=true] with {proxy?, authz?}: the services (and defaults) of `proxy` replace the stored
 * ones, `authz` replaces the policy. Answers the per-entry diff and warnings (split subsets that match no
 * registered instance); a dry run writes nothing.
 */
async function applyConfig(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, _params: string[], url: RequestUrl): Promise<void> {
  const body = await readJsonBody(req, res);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('(top level)', 'the body must be a JSON object with "proxy" and/or "authz"');
  const b = body as JsonObject;
  for (const k of Object.keys(b)) if (k !== 'proxy' && k !== 'authz') throw new ValidationError(k, `${k} is not a known part of the config (known: proxy, authz)`);
  if (b.proxy !== undefined && (typeof b.proxy !== 'object' || b.proxy === null || Array.isArray(b.proxy))) throw new ValidationError('proxy', 'proxy must be a mapping with "defaults" and/or "services"');
  const dryRun = url.searchParams.get('dryRun') === 'true';
  // `?change=` labels the version in the history (`mesh shift` marks its steps so --abort can find its start).
  const label = url.searchParams.get('change')?.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 120);
  const change = (b.proxy === undefined ? 'authz apply' : b.authz === undefined ? 'apply' : 'apply (with authz)') + (label ? `: ${label}` : '');
  // Validate the document on its own first, so an error names its field rather than the merged result's.
  if (b.proxy !== undefined) validateCentral({ proxy: b.proxy });
  let diff: EntryDiff[] = [];
  const next = (current: CentralConfig): CentralConfig | undefined => {
    const candidate = validateCentral({
      proxy: b.proxy === undefined ? current.proxy : applyProxyDocument(current.proxy, b.proxy as ProxyDocument),
      authz: b.authz === undefined ? current.authz : b.authz,
      ...(current.faults === undefined ? {} : { faults: current.faults }),
    });
    diff = diffCentral(current, candidate);
    return diff.length === 0 || dryRun ? undefined : candidate;
  };
  const warnings = b.proxy === undefined ? [] : unmatchedSubsets(ctx.store, b.proxy as ProxyDocument);
  if (dryRun) {
    const current = ctx.store.config.current();
    next(current?.config ?? EMPTY_CENTRAL);
    sendJson(ctx.store, res, 200, { dryRun: true, version: current?.version ?? 0, changed: diff.length > 0, diff, warnings });
    return;
  }
  const v = await ctx.store.updateConfig(change, next);
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, changed: diff.length > 0, diff, warnings });
}

async function deleteServiceEntry(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [service]: string[]): Promise<void> {
  validateServiceName(service);
  let diff: EntryDiff[] = [];
  const v = await ctx.store.updateConfig(`delete ${service}`, (current) => {
    if (current.proxy.services?.[service!] === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `the central config has no entry for service "${service}"`, { hint: 'list the entries with `mesh config get`' });
    const next = { ...current, proxy: deleteService(current.proxy, service!) };
    diff = diffCentral(current, next);
    return next;
  });
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, changed: true, diff, warnings: [] });
}

function history(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  const versions = ctx.store.config.list();
  const rows = versions.map((v, i) => ({
    version: v.version, at: v.at, change: v.change,
    entries: diffCentral(i === 0 ? EMPTY_CENTRAL : versions[i - 1]!.config, v.config).map((d) => `${d.entry} ${d.change}`),
  }));
  sendJson(ctx.store, res, 200, { version: ctx.store.config.current()?.version ?? 0, versions: rows.reverse() });
}

async function rollback(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req, res);
  const target = (body as { version?: unknown } | undefined)?.version;
  if (typeof target !== 'number' || !Number.isSafeInteger(target) || target <= 0) throw new ValidationError('version', 'version must be the positive integer of a version in `mesh config history`');
  let diff: EntryDiff[] = [];
  const v = await ctx.store.updateConfig(`rollback to ${target}`, (current) => {
    const old = ctx.store.config.get(target);
    if (old === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `version ${target} is not in the kept history`, { hint: 'list the versions with `mesh config history`' });
    // Re-validated: a version written by an older mesh must still pass today's schema to come back. Faults are
    // not rolled back: they are time-boxed experiments, not config, and bringing one back would surprise.
    const next = validateCentral({ proxy: old.config.proxy, authz: old.config.authz, ...(current.faults === undefined ? {} : { faults: current.faults }) });
    diff = diffCentral(current, next);
    return diff.length === 0 ? undefined : next;
  });
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, changed: diff.length > 0, diff, warnings: [] });
}

/**
 * GET /v1/config/watch[?index=N]: an SSE stream of `config` events, each the whole version in force (configs
 * are small, and a whole document cannot be half-applied). The first event comes at once unless the client
 * already has the current version (its index is at or past it).
 */
function watch(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, _params: string[], url: RequestUrl): void {
  const raw = url.searchParams.get('index') ?? undefined;
  if (raw !== undefined && !/^\d+$/.test(raw)) throw new ValidationError('index', `invalid index "${raw}": use the non-negative integer of the last version seen`);
  const since = raw === undefined ? -1 : Number(raw);
  openEventStream(ctx, req, res, (subscriber) => {
    const current = ctx.store.config.current();
    if ((current?.version ?? 0) > since || since === -1) subscriber.send({ type: 'config', index: current?.version ?? 0, ...versionBody(current) });
    return ctx.store.config.subscribe((v) => subscriber.send({ type: 'config', index: v.version, ...versionBody(v) }));
  });
}

/** Warnings for split subsets that no registered instance of the service matches (they would answer 503). */
function unmatchedSubsets(store: RegistryStore, doc: ProxyDocument): string[] {
  const out: string[] = [];
  const config = parseConfig(doc);
  for (const [service, settings] of config.services) {
    const instances = store.listService(service);
    settings.routes.forEach((rule, r) => rule.split.forEach((subset, i) => {
      if (subset.weight > 0 && !instances.some((inst) => tagsMatch(inst.tags, subset.tags))) {
        const tags = Object.entries(subset.tags).map(([k, v]) => `${k}=${v}`).join(',') || '(any)';
        out.push(`services.${service}.routes[${r}].split[${i}]: no registered instance of ${service} has tags ${tags}; its share answers 503 until one registers`);
      }
    }));
  }
  return out;
}
