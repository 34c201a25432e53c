// `mesh routes`: the proxy's live route table; `mesh routes explain <url>`: a dry run of routing one request.
import { Option, type Command } from 'commander';
import chalk from 'chalk';
import { systemClock } from '../../core/clock.js';
import { adminGet, fetchRoutes, parseAdminJson } from '../../metrics/admin-client.js';
import { DEFAULT_CONFIG, loadConfig } from '../../config/proxy-config.js';
import { explainRequest, parseHeader, type ExplainInput, type ExplainResult } from '../../proxy/explain.js';
import { addJsonOption, collect } from '../common.js';
import type { CommandContext } from '../program.js';
import { proxyUrlFlag } from '../proxy-flags.js';
import { DEFAULTS } from '../../core/types.js';
import { renderExplain, renderJson, renderRoutesTable, renderRoutesTables } from '../render/routes.js';

interface RoutesFlags { proxy?: string[]; json?: boolean }
interface ExplainFlags extends RoutesFlags { request: string; header?: [string, string][]; config?: string }

export function registerRoutesCommand(program: Command, ctx: CommandContext): void {
  const color = () => ctx.io.stdoutIsTTY && chalk.level > 0;
  // --proxy is repeatable here: several proxies' tables side by side, flagging any that runs an older central
  // config version than the others.
  const proxyOption = new Option('--proxy <url>', 'URL of the proxy\'s admin API (its --admin address); repeat it to compare several proxies, whose central config versions are then checked against each other.')
    .env('MESH_PROXY').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), proxyUrlFlag(v)]);
  const routes = addJsonOption(
    program.command('routes').description('Show a proxy\'s route table: the central config version it runs, and per service its policy and each endpoint\'s weight, priority, zone, health, ejection, in-flight requests and RPS.').addOption(proxyOption),
  )
    .addHelpText('after', '\nExamples:\n  mesh routes\n  mesh routes --proxy http://127.0.0.1:15000 --json\n  mesh routes --proxy http://10.0.0.5:15000 --proxy http://10.0.0.6:15000\n  mesh routes explain http://orders/api/v1 -H \'x-canary: 1\'\n')
    .action(async (opts: RoutesFlags) => {
      const proxies = opts.proxy ?? [DEFAULTS.proxyAdminUrl];
      const now = Date.now();
      if (proxies.length === 1) {
        const snap = await fetchRoutes(proxies[0]!);
        ctx.io.out(opts.json ? renderJson(snap) : renderRoutesTable(snap, { color: color(), now }));
        return;
      }
      const snaps = await Promise.all(proxies.map(async (proxy) => ({ proxy, snap: await fetchRoutes(proxy) })));
      const newest = Math.max(...snaps.map((s) => s.snap.config?.version ?? 0));
      ctx.io.out(opts.json
        ? renderJson({ newestConfigVersion: newest, proxies: snaps.map(({ proxy, snap }) => ({ proxy, olderConfig: (snap.config?.version ?? 0) < newest, ...snap })) })
        : renderRoutesTables(snaps, { color: color(), now }));
    });

  routes.command('explain')
      .description('Dry-run routing: which service and route rule a request would match, which endpoints are eligible (and why the others are not), and each one\'s chance of being picked.')
      .argument('<url>', 'The request\'s URL, as a client would send it through the proxy (http://orders/path).')
      .option('-X, --request <method>', 'The request method.', 'GET')
      .option('-H, --header <header>', 'A request header "Name: value" (repeatable); route rules may match on headers.', collect(parseHeader))
      .option('--config <file>', 'The proxy\'s config file, used only when the proxy is too old to answer /explain itself.')
      // --proxy and --json are the parent's options (commander lets them follow the subcommand too).
      .configureHelp({ showGlobalOptions: true })
      .addHelpText('after', '\nExamples:\n  mesh routes explain http://orders/\n  mesh routes explain http://orders/checkout -X POST -H \'x-canary: 1\' --json\n')
    .action(async (url: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ExplainFlags>();
      const input: ExplainInput = { url, method: opts.request.toUpperCase(), headers: opts.header ?? [] };
      const result = await explain(opts.proxy?.[0] ?? DEFAULTS.proxyAdminUrl, input, opts.config, (m) => ctx.io.err(m));
      ctx.io.out(opts.json ? renderJson(result) : renderExplain(result, { color: color(), now: Date.now() }));
    });
}

/** Asks the proxy's /explain; a proxy without it gets the same computation done here over its /routes. */
async function explain(base: string, input: ExplainInput, configFile: string | undefined, note: (m: string) => void): Promise<ExplainResult> {
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
