// `mesh routes`: the proxy's live route table; `mesh routes explain <url>`: a dry run of routing one request.
import { Option, type Command } from 'commander';
import { parseHeader } from '../../core/header.js';
import type { ExplainFlags, RoutesFlags } from '../actions/routes.js';
import { addJsonOption, collect } from '../common.js';
import type { CommandContext } from '../context.js';
import { proxyUrlFlag } from '../proxy-flags.js';

export function registerRoutesCommand(program: Command, ctx: CommandContext): void {
  // --proxy is repeatable here: several proxies' tables side by side, flagging any that runs an older central
  // config version than the others.
  const proxyOption = new Option('--proxy <url>', 'URL of the proxy\'s admin API (its --admin address); repeat it to compare several proxies, whose central config versions are then checked against each other.')
    .env('MESH_PROXY').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), proxyUrlFlag(v)]);
  const routes = addJsonOption(
    program.command('routes').description('Show a proxy\'s route table: the central config version it runs, and per service its policy and each endpoint\'s weight, priority, zone, health, ejection, in-flight requests and RPS.').addOption(proxyOption),
  )
    .addHelpText('after', '\nExamples:\n  mesh routes\n  mesh routes --proxy http://127.0.0.1:15000 --json\n  mesh routes --proxy http://10.0.0.5:15000 --proxy http://10.0.0.6:15000\n  mesh routes explain http://orders/api/v1 -H \'x-canary: 1\'\n')
    .action(async (opts: RoutesFlags) => (await import('../actions/routes.js')).routes(ctx, opts));

  routes.command('explain')
      .description('Dry-run routing: which service and route rule a request would match, which endpoints are eligible (and why the others are not), and each one\'s chance of being picked.')
      .argument('<url>', 'The request\'s URL, as a client would send it through the proxy (http://orders/path).')
      .option('-X, --request <method>', 'The request method.', 'GET')
      .option('-H, --header <header>', 'A request header "Name: value" (repeatable); route rules may match on headers.', collect(parseHeader))
      .option('--config <file>', 'The proxy\'s config file, used only when the proxy is too old to answer /explain itself.')
      // --proxy and --json are the parent's options (commander lets them follow the subcommand too).
      .configureHelp({ showGlobalOptions: true })
      .addHelpText('after', '\nExamples:\n  mesh routes explain http://orders/\n  mesh routes explain http://orders/checkout -X POST -H \'x-canary: 1\' --json\n')
    .action(async (url: string, _opts: unknown, cmd: Command) => (await import('../actions/routes.js')).explain(ctx, url, cmd.optsWithGlobals<ExplainFlags>()));
}
