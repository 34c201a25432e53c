// What `mesh routes` and `mesh routes explain` do once their flags are parsed (registered in ../commands/routes.ts).
import chalk from 'chalk';
import { systemClock } from '../../core/clock.js';
import { adminGet, fetchRoutes, parseAdminJson } from '../../metrics/admin-client.js';
import { DEFAULT_CONFIG, loadConfig } from '../../proxy/config.js';
import { explainRequest, type ExplainInput, type ExplainResult } from '../../proxy/explain.js';
import type { CommandContext } from '../program.js';
import { renderExplain, renderJson, renderRoutesTable } from '../render/routes.js';

export interface RoutesFlags { proxy: string; json?: boolean }
export interface ExplainFlags extends RoutesFlags { request: string; header?: [string, string][]; config?: string }

const color = (ctx: CommandContext) => ctx.io.stdoutIsTTY && chalk.level > 0;

export async function routes(ctx: CommandContext, opts: RoutesFlags): Promise<void> {
  const snap = await fetchRoutes(opts.proxy);
  ctx.io.out(opts.json ? renderJson(snap) : renderRoutesTable(snap, { color: color(ctx), now: Date.now() }));
}

export async function explain(ctx: CommandContext, url: string, opts: ExplainFlags): Promise<void> {
  const input: ExplainInput = { url, method: opts.request.toUpperCase(), headers: opts.header ?? [] };
  const result = await explainVia(opts.proxy, input, opts.config, (m) => ctx.io.err(m));
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
