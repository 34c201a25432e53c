// What `mesh shift` does once its flags are parsed (registered in ../commands/shift.ts): a progressive canary
// run (../shift/run.ts) with Ctrl-C leaving the split where it is.
import { UsageError } from '../../core/errors.js';
import { DEFAULTS } from '../../core/types.js';
import { validateServiceName } from '../../core/validate.js';
import { flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { abortShift, runShift } from '../shift/run.js';

export interface ShiftFlags extends RegistryClientFlags {
  to?: [string, string]; from?: [string, string]; steps: number[]; every: number; maxErrorRate: number; proxy?: string[]; abort?: boolean;
}

export async function shift(ctx: CommandContext, service: string, opts: ShiftFlags): Promise<void> {
  flagParser('<service>', validateServiceName)(service);
  const client = registryClient(opts);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    if (opts.abort) { await abortShift(ctx.io, client, service); return; }
    if (opts.to === undefined) throw new UsageError('--to <tag> is required, e.g. --to version=v2 (or pass --abort)');
    process.exitCode = await runShift(ctx.io, client, {
      service, to: Object.fromEntries([opts.to]), from: opts.from === undefined ? undefined : Object.fromEntries([opts.from]),
      steps: opts.steps, everyMs: opts.every, maxErrorRate: opts.maxErrorRate, proxies: opts.proxy ?? [DEFAULTS.proxyAdminUrl],
    }, stop.signal);
  } finally {
    process.off('SIGINT', onSigint);
    await client.close();
  }
}
