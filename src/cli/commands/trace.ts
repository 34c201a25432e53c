// `mesh trace`: recent traces from the proxies' admin servers, or one trace's waterfall across them — with no
// collector at all (each proxy keeps its recent spans: src/tracing/ring.ts). Parse → ask → render; the
// fetching and drawing modules load only when the command runs.
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../core/types.js';
import { UsageError } from '../../core/errors.js';
import { addJsonOption, intFlag } from '../common.js';
import type { CommandContext } from '../program.js';
import { proxyUrlFlag } from '../proxy-flags.js';

interface TraceFlags { proxy: string[]; service?: string; slowest?: boolean; limit: number; json?: boolean }

const TRACE_ID = /^[0-9a-f]{32}$/;
const DEFAULT_PROXIES: string[] = [DEFAULTS.proxyAdminUrl];

export function registerTraceCommand(program: Command, ctx: CommandContext): void {
  addJsonOption(program
    .command('trace')
    .description('List recent traces kept by the proxies (tracing on: mesh proxy start --trace-sample <ratio>), or draw one trace as a waterfall across them: each span, and each try with its phases and retries.')
    .argument('[trace-id]', 'A trace id (32 hex digits, as in traceparent or the access log) to draw; without it, list recent traces.')
    .addOption(new Option('--proxy <url>', 'Admin URLs of the proxies and sidecars to ask (repeatable: the outbound proxy, each sidecar\'s --admin or --inbound-admin).').env('MESH_PROXY').default(DEFAULT_PROXIES, DEFAULTS.proxyAdminUrl).argParser(collectUrls))
    .option('--service <name>', 'List only traces whose span on a proxy is for this service.')
    .option('--slowest', 'List the slowest recent traces (per service, of the last 10 minutes) instead of the newest.')
    .addOption(new Option('--limit <n>', 'How many traces to list.').default(20).argParser(intFlag('--limit', 1, 1000))))
    .addHelpText('after', '\nExamples:\n  mesh trace --proxy http://127.0.0.1:15000 --slowest --service orders\n  mesh trace 4bf92f3577b34da6a3ce929d0e0e4736 --proxy http://127.0.0.1:15000 --proxy http://127.0.0.1:15100\n')
    .action(async (traceId: string | undefined, opts: TraceFlags) => {
      const id = traceId?.toLowerCase();
      if (id !== undefined && !TRACE_ID.test(id)) throw new UsageError(`trace id "${traceId}" must be 32 hex digits (the second field of a traceparent)`);
      const [{ collectTrace, collectTraceList }, render, { MeshError }, chalk] = await Promise.all([
        import('../../tracing/collect.js'), import('../render/trace.js'), import('../../core/errors.js'), import('chalk'),
      ]);
      const renderOpts = { color: ctx.io.stdoutIsTTY && chalk.default.level > 0, now: Date.now() };
      const warn = (failures: Array<{ proxy: string; error: Error }>) => { for (const f of failures) ctx.io.err(`mesh trace: skipped ${f.proxy}: ${f.error.message}\n`); };
      if (id === undefined) {
        const { value, failures } = await collectTraceList(opts.proxy, { ...(opts.service === undefined ? {} : { service: opts.service }), slowest: opts.slowest === true, limit: opts.limit });
        warn(failures);
        ctx.io.out(opts.json ? `${JSON.stringify({ traces: value }, null, 2)}\n` : render.renderTraceList(value, renderOpts));
        return;
      }
      const { value, failures } = await collectTrace(opts.proxy, id);
      warn(failures);
      if (value.length === 0) {
        throw new MeshError('MESH_ERR_NOT_FOUND', `trace ${id} is not among the recent spans of ${opts.proxy.join(', ')}`, { hint: 'list what they have with `mesh trace --proxy <url>`; a proxy keeps its last 2048 spans' });
      }
      ctx.io.out(opts.json ? `${JSON.stringify({ traceId: id, spans: value }, null, 2)}\n` : render.renderWaterfall(id, value, renderOpts));
    });
}

/** Repeated --proxy values accumulate; the first one given replaces the default. */
function collectUrls(value: string, previous: string[]): string[] {
  const url = proxyUrlFlag(value);
  return previous === DEFAULT_PROXIES ? [url] : [...previous, url];
}
