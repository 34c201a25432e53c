// What `mesh routes` and `mesh routes explain` do once their flags are parsed (registered in ../commands/routes.ts).
import chalk from 'chalk';
import { systemClock } from '../../core/clock.js';
import { adminGet, fetchRoutes, parseAdminJson } from '../../metrics/admin-client.js';
import { DEFAULT_CONFIG, loadConfig } from '../../config/proxy-config.js';
import { DEFAULTS } from '../../core/types.js';
import { explainRequest, type ExplainInput, type ExplainResult } from '../../proxy/explain.js';
import type { CommandContext } from '../context.js';
import { renderExplain, renderJson, renderRoutesTable, renderRoutesTables } from '../render/routes.js';

/** --proxy is repeatable on `mesh routes` (several proxies compared); explain asks the first. */
export interface RoutesFlags { proxy?: string[]; json?: boolean }
export interface ExplainFlags extends RoutesFlags { request: string; header?: [string, string][]; config?: string }

const color = (ctx: CommandContext) => ctx.io.stdoutIsTTY && chalk.level > 0;

export async function routes(ctx: CommandContext, opts: RoutesFlags): Promise<void> {
  const proxies = opts.proxy ?? [DEFAULTS.proxyAdminUrl];
  const now = Date.now();
  if (proxies.length === 1) {
    const snap = await fetchRoutes(proxies[0]!);
    ctx.io.out(opts.json ? renderJson(snap) : renderRoutesTable(snap, { color: color(ctx), now }));
    return;
  }
  const snaps = await Promise.all(proxies.map(async (proxy) => ({ proxy, snap: await fetchRoutes(proxy) })));
  const newest = Math.max(...snaps.map((s) => s.snap.config?.version ?? 0));
  ctx.io.out(opts.json
    ? renderJson({ newestConfigVersion: newest, proxies: snaps.map(({ proxy, snap }) => ({ proxy, olderConfig: (snap.config?.version ?? 0) < newest, ...snap })) })
    : renderRoutesTables(snaps, { color: color(ctx), now }));
}

export async function explain(ctx: CommandContext, url: string, opts: ExplainFlags): Promise<void> {
  const input: ExplainInput = { url, method: opts.request.toUpperCase(), headers: opts.header ?? [] };
  const result = await explainVia(opts.proxy?.[0] ?? DEFAULTS.proxyAdminUrl, input, opts.config, (m) => ctx.io.err(m));
  ctx.io.out(opts.json ? renderJson(result) : renderExplain(result, { color: color(ctx), now: Date.now() }));
}

/** Asks the proxy's /explain; a proxy without it gets the same computation done here over its /routes. */
async function explainVia(base: string, input: ExplainInput, configFile: string | undefined, note: (m: string) => void): Promise<ExplainResult> {
  const q = new URLSearchParams({ url: input.url, method: input.method });
  for (const [k, v] of input.headers) q.append('header', `${k}: ${v}`);
  const path = `/explain?${q}`;
  const res = await adminGet(base, path);
  // /explain never answers 404 itself: a 404 means this proxy does not serve it.
  if (res.status !== 404) return parseAdminJson<ExplainResult>(base, '/explain', res);
  note(`mesh: the proxy at ${base} has no /explain; explaining locally from its /routes${configFile ? ` and ${configFile}` : ' with the default config'}\n`);
  const [snap, config] = await Promise.all([fetchRoutes(base), configFile ? loadConfig(configFile) : Promise.resolve(DEFAULT_CONFIG)]);
  return explainRequest(input, snap, config, systemClock);
}
