// The actions of `mesh fault …`, loaded only when one of them runs.
import type { Fault } from '../../config/faults.js';
import { UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { FaultRequest } from '../../registry/client.js';
import { flagParser, type RegistryClientFlags } from '../common.js';
import type { CommandContext } from '../context.js';
import { registryClient } from '../registry-client.js';
import { renderJson } from '../render/routes.js';
import { plainTable } from '../render/table.js';

/** The flags of `mesh fault …` (registered in ../commands/fault.ts). */
export interface FaultFlags extends RegistryClientFlags {
  json?: boolean; route?: string; from?: string; abort?: number; reset?: boolean; delay?: number; percent?: number; for?: number; allowLong?: boolean;
}

async function withClient<T>(flags: FaultFlags, fn: (c: ReturnType<typeof registryClient>) => Promise<T>): Promise<T> {
  const client = registryClient(flags);
  try { return await fn(client); } finally { await client.close(); }
}

export async function faultInject({ io }: CommandContext, service: string, flags: FaultFlags): Promise<void> {
  flagParser('<service>', validateServiceName)(service);
  const actions = [flags.abort !== undefined, flags.reset === true, flags.delay !== undefined].filter(Boolean).length;
  if (actions !== 1) throw new UsageError('give exactly one of --abort <status>, --reset or --delay <duration>');
  if (flags.for === undefined) throw new UsageError('--for <duration> is required: every fault expires (e.g. --for 5m)');
  if (flags.route !== undefined && !flags.route.startsWith('/')) throw new UsageError(`--route: "${flags.route}" must be a path prefix starting with "/"`);
  if (flags.for > 3_600_000 && !flags.allowLong) throw new UsageError('--for: at most 1h; pass --allow-long for up to 7 days');
  const body: FaultRequest = {
    service, percent: flags.percent!, forMs: flags.for,
    ...(flags.route === undefined ? {} : { route: flags.route }),
    ...(flags.from === undefined ? {} : { from: flagParser('--from', validateServiceName)(flags.from) }),
    ...(flags.abort !== undefined ? { abort: flags.abort } : flags.reset ? { reset: true as const } : { delayMs: flags.delay! }),
    ...(flags.allowLong ? { allowLong: true } : {}),
  };
  const r = await withClient(flags, (c) => c.injectFault(body));
  io.out(flags.json ? renderJson(r) : `injected ${r.fault.id}: ${describe(r.fault)} until ${new Date(r.fault.expiresAt).toISOString()} (config version ${r.version})\n`);
}

export async function faultList({ io }: CommandContext, flags: FaultFlags): Promise<void> {
  const r = await withClient(flags, (c) => c.faults());
  if (flags.json) { io.out(renderJson(r)); return; }
  if (r.faults.length === 0) { io.out('no active faults\n'); return; }
  io.out(plainTable(['ID', 'SERVICE', 'ROUTE', 'FAULT', 'PERCENT', 'EXPIRES IN'], r.faults.map((f) => [
    f.id, f.service, f.route ?? '/', action(f), `${f.percent}%`, `${Math.max(0, Math.ceil((f.expiresAt - r.now) / 1000))}s`,
  ])));
}

export async function faultClear({ io }: CommandContext, id: string | undefined, flags: FaultFlags): Promise<void> {
  const r = await withClient(flags, (c) => c.clearFaults(id));
  io.out(flags.json ? renderJson(r) : r.cleared.length === 0 ? 'no active faults to clear\n' : `cleared ${r.cleared.join(', ')}\n`);
}

function action(f: Fault): string {
  const a = f.action;
  return 'abort' in a ? `abort ${a.abort}` : 'reset' in a ? 'reset' : `delay ${a.delayMs}ms`;
}

function describe(f: Fault): string {
  return `${action(f)} on ${f.percent}% of ${f.service}${f.route ? ` ${f.route}` : ''} requests`;
}
