// `mesh trace`: recent traces from the proxies' admin servers, or one trace's waterfall across them — with no
// collector at all (each proxy keeps its recent spans: src/tracing/ring.ts). Registration only; the action
// lives in ../actions/trace.ts.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import type { TraceFlags } from '../actions/trace.js';
import { addJsonOption, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';
import { proxyUrlFlag } from '../proxy-flags.js';

const DEFAULT_PROXIES: string[] = [DEFAULTS.proxyAdminUrl];

/** Repeated --proxy values accumulate; the first one given replaces the default. */
function collectUrls(value: string, previous: string[]): string[] {
  const url = proxyUrlFlag(value);
  return previous === DEFAULT_PROXIES ? [url] : [...previous, url];
}

export function registerTraceCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(program
    .command('trace')
    .description('List recent traces kept by the proxies (tracing on: mesh proxy start --trace-sample <ratio>), or draw one trace as a waterfall across them: each span, and each try with its phases and retries.')
    .argument('[trace-id]', 'A trace id (32 hex digits, as in traceparent or the access log) to draw; without it, list recent traces.')
    .addOption(new Option('--proxy <url>', 'Admin URLs of the proxies and sidecars to ask (repeatable: the outbound proxy, each sidecar\'s --admin or --inbound-admin).').env('MESH_PROXY').default(DEFAULT_PROXIES, DEFAULTS.proxyAdminUrl).argParser(collectUrls))
    .option('--service <name>', 'List only traces whose span on a proxy is for this service.')
    .option('--slowest', 'List the slowest recent traces (per service, of the last 10 minutes) instead of the newest.')
    .addOption(new Option('--limit <n>', 'How many traces to list.').default(20).argParser(intFlag('--limit', 1, 1000))))
    .addHelpText('after', '\nExamples:\n  mesh trace --proxy http://127.0.0.1:15000 --slowest --service orders\n  mesh trace 4bf92f3577b34da6a3ce929d0e0e4736 --proxy http://127.0.0.1:15000 \\\n    --proxy http://127.0.0.1:15100\n')
    .action(async (traceId: string | undefined, opts: TraceFlags) => (await import('../actions/trace.js')).trace(ctx, traceId, opts));
}
