// `mesh demo`: a small mesh with live traffic and the dashboard on it — the README's first line. q or Ctrl-C
// stops everything; --no-ui runs headless for --duration and prints a summary.
import { Option, type Command } from 'commander';
import type { DemoFlags } from '../actions/demo.js';
import { addJsonOption, durationFlag, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';

export function registerDemoCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(
    program
      .command('demo')
      .description('Start a demo mesh in this terminal (a registry, a proxy, three services with several instances (one slow, one failing half its requests, one in a backup tier) and a steady load) and watch it with `mesh top`. q or Ctrl-C stops everything and removes what it created.')
      .option('--no-ui', 'Run without the dashboard for --duration, then print a summary table.')
      .addOption(new Option('--duration <duration>', 'How long to run: with --no-ui the run\'s length (default 10s); with the dashboard an upper bound (default 30m).').argParser(durationFlag('--duration')))
      .addOption(new Option('--rps <n>', 'Requests per second sent to each service, from 1 to 1000.').default(40).argParser(intFlag('--rps', 1, 1000))),
  )
    .addHelpText('after', '\nExamples:\n  mesh demo\n  mesh demo --no-ui --duration 10s\n  mesh demo --no-ui --duration 5s --rps 100 --json\n  npx mesh-cli demo            # without installing mesh first\n')
    .action(async (opts: DemoFlags) => (await import('../actions/demo.js')).demo(ctx, opts));
}
