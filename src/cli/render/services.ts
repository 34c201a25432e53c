// Pure renderers for `mesh services`: the table and the --json text come from the same value, so the two can
// never disagree. Tested against golden files (test/unit/cli/golden/).
import { Chalk } from 'chalk';
import { plainTable } from './table.js';
import type { HealthState, Instance, ServiceSummary } from '../../core/types.js';

export interface ServicesView { index: number; services: ServiceSummary[] }
export interface ServiceView { index: number; service: string; instances: Instance[] }
export interface RenderOptions { color: boolean; now: number }

export function renderJson(value: ServicesView | ServiceView): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function renderServicesTable(view: ServicesView, opts: Pick<RenderOptions, 'color'>): string {
  if (view.services.length === 0) return 'no services registered\n';
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const rows = view.services.map((s) => [
    s.service,
    String(s.instances),
    s.passing > 0 ? c.green(String(s.passing)) : '0',
    s.warning > 0 ? c.yellow(String(s.warning)) : '0',
    s.critical > 0 ? c.red(String(s.critical)) : '0',
    s.tags.join(',') || '-',
  ]);
  return plainTable(['SERVICE', 'INSTANCES', 'PASSING', 'WARNING', 'CRITICAL', 'TAGS'], rows);
}

export function renderServiceTable(view: ServiceView, opts: RenderOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const paint: Record<HealthState, (s: string) => string> = { passing: c.green, warning: c.yellow, critical: c.red };
  const rows = view.instances.map((i) => [
    i.id,
    i.address,
    String(i.weight),
    String(i.priority),
    i.zone ?? '-',
    Object.entries(i.tags).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    paint[i.health](i.health) + (i.health !== 'passing' && i.healthOutput ? ` (${i.healthOutput})` : ''),
    i.lastHeartbeat === undefined ? 'never' : ago(opts.now - i.lastHeartbeat),
  ]);
  return plainTable(['ID', 'ADDRESS', 'WEIGHT', 'PRIORITY', 'ZONE', 'TAGS', 'HEALTH', 'LAST HEARTBEAT'], rows);
}

/** "3s ago", "2m ago", "1h ago", "just now". */
export function ago(ms: number): string {
  if (ms < 1_000) return 'just now';
  if (ms < 60_000) return `${Math.floor(ms / 1_000)}s ago`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ago`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h ago`;
  return `${Math.floor(ms / 86_400_000)}d ago`;
}

