// `mesh shift`: moves a service's traffic to a canary subset step by step by rewriting its central config entry,
// reading the canary's error rate from the proxies' /metrics between steps, and rolling back to the starting
// entry (saying why) when the rate goes above the bound. Ctrl-C leaves the split where it is; --abort restores
// the entry as it was before the newest shift of the service began (found through the config history, whose
// versions the shift labels "shift <service> …").
import { adminGet, fetchRoutes } from '../../metrics/admin-client.js';
import type { JsonObject } from '../../config/central.js';
import { MeshError, UsageError } from '../../core/errors.js';
import type { RegistryClient } from '../../registry/client.js';
import type { Io } from '../io.js';
import { canaryDelta, canaryIds, entryAtStep, requestCounts } from './canary.js';

export interface ShiftOptions {
  service: string;
  to: Record<string, string>;
  from: Record<string, string> | undefined;
  steps: number[];
  everyMs: number;
  /** Highest canary failure share allowed, in [0,1]. */
  maxErrorRate: number;
  proxies: string[];
}

const fmtTags = (t: Record<string, string>) => Object.entries(t).map(([k, v]) => `${k}=${v}`).join(',');

async function currentEntry(client: RegistryClient, service: string, version?: number): Promise<JsonObject | undefined> {
  try {
    return (await client.configEntry(service, version)).entry;
  } catch (err) {
    if (err instanceof MeshError && err.code === 'MESH_ERR_NOT_FOUND' && /no entry/.test(err.message)) return undefined;
    throw err;
  }
}

/** Writes `entry` as the service's whole entry (or removes the entry when undefined). */
async function writeEntry(client: RegistryClient, service: string, entry: JsonObject | undefined, change: string): Promise<number> {
  if (entry === undefined) return (await client.deleteConfigEntry(service)).version;
  return (await client.applyConfig({ proxy: { services: { [service]: entry } } }, { change })).version;
}

/** The baseline subset: --from, else the one other subset of the starting entry's catch-all split. */
function baselineOf(start: JsonObject | undefined, opts: ShiftOptions): Record<string, string> {
  if (opts.from !== undefined) return opts.from;
  const routes = (start?.routes ?? []) as Array<{ match?: unknown; split?: Array<{ tags?: Record<string, string> }> }>;
  const last = routes[routes.length - 1];
  const others = (last?.split ?? []).map((s) => s.tags ?? {}).filter((t) => fmtTags(t) !== fmtTags(opts.to));
  if (others.length !== 1) throw new UsageError(`cannot tell which subset ${opts.service} shifts from: give --from, e.g. --from version=v1`);
  return others[0]!;
}

async function readCounts(proxies: string[], service: string, to: Record<string, string>): Promise<Array<{ ids: Set<string>; counts: ReturnType<typeof requestCounts> }>> {
  return Promise.all(proxies.map(async (p) => {
    const [routes, metrics] = await Promise.all([fetchRoutes(p), adminGet(p, '/metrics')]);
    return { ids: canaryIds(routes, service, to), counts: requestCounts(metrics.body, service) };
  }));
}

export async function runShift(io: Io, client: RegistryClient, opts: ShiftOptions, signal: AbortSignal): Promise<number> {
  const start = await currentEntry(client, opts.service);
  const from = baselineOf(start, opts);
  const label = `shift ${opts.service} ${fmtTags(from)} -> ${fmtTags(opts.to)}`;
  io.out(`shifting ${opts.service} from ${fmtTags(from)} to ${fmtTags(opts.to)} in steps ${opts.steps.join('%, ')}%, every ${opts.everyMs / 1000}s, rolling back above ${(opts.maxErrorRate * 100).toFixed(2)}% canary errors\n`);
  for (const [i, step] of opts.steps.entries()) {
    const before = await readCounts(opts.proxies, opts.service, opts.to);
    const version = await writeEntry(client, opts.service, entryAtStep(start, from, opts.to, step), `${label} step ${step}%${i === 0 ? ' (start)' : ''}`);
    io.out(`step ${i + 1}/${opts.steps.length}: ${step}% to ${fmtTags(opts.to)} (config version ${version})\n`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.everyMs);
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    if (signal.aborted) {
      io.err(`mesh: shift interrupted at ${step}%: the split stays where it is; \`mesh shift ${opts.service} --abort\` restores the starting split\n`);
      return 130;
    }
    const after = await readCounts(opts.proxies, opts.service, opts.to);
    let total = 0;
    let failed = 0;
    after.forEach((a, p) => { const d = canaryDelta(before[p]!.counts, a.counts, a.ids); total += d.total; failed += d.failed; });
    const rate = total === 0 ? 0 : failed / total;
    io.out(`  canary: ${total} requests, ${(rate * 100).toFixed(2)}% failed\n`);
    if (rate > opts.maxErrorRate) {
      const v = await writeEntry(client, opts.service, start, `${label} rolled back`);
      io.err(`mesh: rolled ${opts.service} back to its starting split (config version ${v}): the canary failed ${(rate * 100).toFixed(2)}% of ${total} requests at ${step}%, above the ${(opts.maxErrorRate * 100).toFixed(2)}% bound\n`);
      return 1;
    }
  }
  io.out(`done: ${opts.service} sends 100% to ${fmtTags(opts.to)}\n`);
  return 0;
}

/** `mesh shift <service> --abort`: restores the entry as it was before the newest shift of the service began. */
export async function abortShift(io: Io, client: RegistryClient, service: string): Promise<void> {
  const { versions } = await client.configHistory();
  const i = versions.findIndex((v) => v.change.includes(`shift ${service} `) && v.change.endsWith('(start)'));
  if (i < 0) throw new MeshError('MESH_ERR_NOT_FOUND', `no shift of ${service} in the kept config history`, { hint: 'see `mesh config history`' });
  const before = versions[i + 1];
  const entry = before === undefined ? undefined : await currentEntry(client, service, before.version);
  const v = await writeEntry(client, service, entry, `shift ${service} aborted`);
  io.out(`restored ${service}'s entry from before the shift (version ${before?.version ?? 0}) as version ${v}\n`);
}
