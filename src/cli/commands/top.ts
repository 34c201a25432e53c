// `mesh top`: a live dashboard of one or more proxies' /stats streams (ink). Quits on q or Ctrl-C and
// gives the terminal back as it was (the dashboard draws on the alternate screen).
import { Option, type Command } from 'commander';
import { helpNotes } from '../help.js';
import type { CommandContext } from '../context.js';
import { proxyUrlFlag } from '../proxy-flags.js';

export function registerTopCommand(program: Command, ctx: CommandContext): void {
  program
    .command('top')
    .description('A live dashboard of the mesh: per service RPS, success rate, p50/p95/p99, in-flight requests and request fates; Enter shows a service\'s endpoints as the balancer sees them.')
    .addOption(new Option('--proxy <url>', 'URL of a proxy\'s admin API; repeat to watch several proxies as one mesh (default $MESH_PROXY, else http://127.0.0.1:15000).')
      .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), proxyUrlFlag(v)]))
    .addHelpText('after', helpNotes('\nKeys: Left/Right or s change the sort column, Up/Down move the selection, Enter opens a service, t shows its slowest recent trace (as mesh trace draws it), Esc goes back, q or Ctrl-C quits.', ctx.helpWidth))
    .addHelpText('after', '\nExamples:\n  mesh top\n  mesh top --proxy http://127.0.0.1:15000 --proxy http://10.0.0.2:15000\n')
    .action(async (opts: { proxy?: string[] }) => (await import('../actions/top.js')).top(ctx, opts));
}
