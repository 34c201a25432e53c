// `mesh demo`: a small mesh with live traffic and the dashboard on it — the README's first line. q or Ctrl-C
// stops everything; --no-ui runs headless for --duration and prints a summary.
import { Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { startDemo } from '../../demo/run.js';
import { collectSummary } from '../../demo/summary.js';
import { addJsonOption, durationFlag, intFlag } from '../common.js';
import type { CommandContext } from '../program.js';
import { renderDemoSummary } from '../render/demo.js';
import { renderJson } from '../render/routes.js';
import { runTop } from './top.js';

interface DemoFlags { ui: boolean; duration?: number; rps: number; json?: boolean }

export function registerDemoCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(
    program
      .command('demo')
      .description('Start a demo mesh in this terminal — a registry, a proxy, three services with several instances (one slow, one failing half its requests, one in a backup tier) and a steady load — and watch it with `mesh top`. q or Ctrl-C stops everything and removes what it created.')
      .option('--no-ui', 'Run without the dashboard for --duration, then print a summary table.')
      .addOption(new Option('--duration <duration>', 'How long to run: with --no-ui the run\'s length (default 10s); with the dashboard an upper bound (default 30m).').argParser(durationFlag('--duration')))
      .addOption(new Option('--rps <n>', 'Requests per second sent to each service, from 1 to 1000.').default(40).argParser(intFlag('--rps', 1, 1000))),
  )
    .addHelpText('after', '\nExamples:\n  npx mesh demo\n  mesh demo --no-ui --duration 10s\n  mesh demo --no-ui --duration 5s --rps 100 --json\n')
    .action(async (opts: DemoFlags) => {
      if (opts.ui && (!process.stdin.isTTY || !process.stdout.isTTY)) {
        throw new UsageError('mesh demo draws a dashboard and needs an interactive terminal: use --no-ui for a headless run with a summary');
      }
      const durationMs = opts.duration ?? (opts.ui ? 30 * 60_000 : 10_000);
      const log = (line: string) => ctx.io.err(`mesh demo: ${line}\n`);
      const demo = await startDemo({ rps: opts.rps, maxRequests: Math.ceil((opts.rps * 3 * durationMs) / 1000) + 100, log });
      // The registry's central config drives the demo's proxy too: faults and canaries from a second terminal.
      log(`from a second terminal: mesh fault inject orders --abort 503 --percent 20 --for 30s --registry ${demo.registryUrl}  (the fault_injected fate appears; it ends by itself)`);
      const started = Date.now();
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), durationMs);
      const onSignal = () => stop.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        if (opts.ui) {
          await runTop({ proxies: [demo.adminUrl], signal: stop.signal });
        } else {
          log(`running for ${(durationMs / 1000).toFixed(0)}s (Ctrl-C ends it early); dashboard: mesh top --proxy ${demo.adminUrl}`);
          await new Promise<void>((r) => stop.signal.addEventListener('abort', () => r(), { once: true }));
          const summary = await collectSummary({ registry: demo.registryUrl, proxy: demo.proxyUrl, admin: demo.adminUrl }, Date.now() - started, demo.load);
          ctx.io.out(opts.json ? renderJson(summary) : renderDemoSummary(summary));
        }
      } finally {
        clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        log('stopping…');
        await demo.stop();
        log('stopped; nothing left running, temporary files removed');
      }
    });
}
