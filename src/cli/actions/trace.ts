// What `mesh trace` does (registered in ../commands/trace.ts): ask the proxies' admin servers for recent traces
// or one trace's spans, merge them, and print the list or the waterfall (render/trace.ts) or JSON.
import chalk from 'chalk';
import { MeshError, UsageError } from '../../core/errors.js';
import { collectTrace, collectTraceList } from '../../tracing/collect.js';
import type { CommandContext } from '../context.js';
import { renderTraceList, renderWaterfall } from '../render/trace.js';

export interface TraceFlags { proxy: string[]; service?: string; slowest?: boolean; limit: number; json?: boolean }

const TRACE_ID = /^[0-9a-f]{32}$/;

export async function trace(ctx: CommandContext, traceId: string | undefined, opts: TraceFlags): Promise<void> {
  const id = traceId?.toLowerCase();
  if (id !== undefined && !TRACE_ID.test(id)) throw new UsageError(`trace id "${traceId}" must be 32 hex digits (the second field of a traceparent)`);
  const renderOpts = { color: ctx.io.stdoutIsTTY && chalk.level > 0, now: Date.now() };
  const warn = (failures: Array<{ proxy: string; error: Error }>) => { for (const f of failures) ctx.io.err(`mesh trace: skipped ${f.proxy}: ${f.error.message}\n`); };
  if (id === undefined) {
    const { value, failures } = await collectTraceList(opts.proxy, { ...(opts.service === undefined ? {} : { service: opts.service }), slowest: opts.slowest === true, limit: opts.limit });
    warn(failures);
    ctx.io.out(opts.json ? `${JSON.stringify({ traces: value }, null, 2)}\n` : renderTraceList(value, renderOpts));
    return;
  }
  const { value, failures } = await collectTrace(opts.proxy, id);
  warn(failures);
  if (value.length === 0) {
    throw new MeshError('MESH_ERR_NOT_FOUND', `trace ${id} is not among the recent spans of ${opts.proxy.join(', ')}`, { hint: 'list what they have with `mesh trace --proxy <url>`; a proxy keeps its last 2048 spans' });
  }
  ctx.io.out(opts.json ? `${JSON.stringify({ traceId: id, spans: value }, null, 2)}\n` : renderWaterfall(id, value, renderOpts));
}
