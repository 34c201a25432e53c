// /v1/faults: time-boxed fault injection, stored in the central config (so every proxy gets it through the
// config watch) with its absolute expiry. Expired faults are dropped whenever faults are written, and never
// listed; proxies ignore them by their own clock either way.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CentralConfig } from '../../config/central.js';
import { faultFromRequest, type Fault } from '../../config/faults.js';
import { MeshError } from '../../core/errors.js';
import type { ApiContext, Route } from '../api/context.js';
import { readJsonBody, sendJson } from '../api/json.js';

export const FAULT_ROUTES: Route[] = [
  { pattern: /^\/v1\/faults$/, methods: { GET: list, POST: inject, DELETE: clearAll } },
  { pattern: /^\/v1\/faults\/([^/]+)$/, methods: { DELETE: clearOne } },
];

const live = (faults: Fault[] | undefined, now: number) => (faults ?? []).filter((f) => f.expiresAt > now);

function withFaults(current: CentralConfig, faults: Fault[]): CentralConfig {
  const { faults: _old, ...rest } = current;
  return faults.length === 0 ? rest : { ...rest, faults };
}

function list(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  const now = ctx.clock.now();
  const current = ctx.store.config.current();
  sendJson(ctx.store, res, 200, { version: current?.version ?? 0, now, faults: live(current?.config.faults, now) });
}

async function inject(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req, res);
  const now = ctx.clock.now();
  const fault = faultFromRequest(body, `f-${randomBytes(4).toString('hex')}`, now);
  const v = await ctx.store.updateConfig(`fault inject ${fault.id}`, (current) => withFaults(current, [...live(current.faults, now), fault]));
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, fault });
}

async function clearOne(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [id]: string[]): Promise<void> {
  const now = ctx.clock.now();
  const v = await ctx.store.updateConfig(`fault clear ${id}`, (current) => {
    const faults = live(current.faults, now);
    if (!faults.some((f) => f.id === id)) throw new MeshError('MESH_ERR_NOT_FOUND', `no active fault "${id}"`, { hint: 'list them with `mesh fault list`' });
    return withFaults(current, faults.filter((f) => f.id !== id));
  });
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, cleared: [id] });
}

async function clearAll(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  let cleared: string[] = [];
  const v = await ctx.store.updateConfig('fault clear all', (current) => {
    cleared = live(current.faults, ctx.clock.now()).map((f) => f.id);
    return current.faults === undefined ? undefined : withFaults(current, []);
  });
  sendJson(ctx.store, res, 200, { version: v?.version ?? 0, cleared });
}
