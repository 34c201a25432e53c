// Pure renderers for `mesh routes` and `mesh routes explain`: tables from the same values --json prints.
import { Chalk, type ChalkInstance } from 'chalk';
import { plainTable } from './table.js';
import type { ProxyIdentity, RoutesSnapshot } from '../../core/admin-types.js';
import type { HealthState } from '../../core/types.js';
import type { ExplainResult } from '../../proxy/explain.js';

export interface RenderOptions {
  color: boolean;
  now: number;
  /** The newest central config version among the proxies shown: older ones are flagged. */
  newestConfig?: number;
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function painter(color: boolean): { c: ChalkInstance; health: (h: HealthState) => string } {
  const c = new Chalk({ level: color ? 1 : 0 });
  const paint: Record<HealthState, (s: string) => string> = { passing: c.green, warning: c.yellow, critical: c.red };
  return { c, health: (h) => paint[h](h) };
}

/** "in 25s", "in 3m10s"; "-" for the past. */
export function until(epochMs: number | undefined, now: number): string {
  if (epochMs === undefined || epochMs <= now) return '-';
  const s = Math.ceil((epochMs - now) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** "identity spiffe://…/web (registry-issued, certificate valid 3m10s more)", red when under 20% is left. */
export function identityLine(id: ProxyIdentity, now: number, c: ChalkInstance): string {
  const end = Date.parse(id.notAfter);
  const life = end - Date.parse(id.notBefore);
  const left = end <= now ? c.red('EXPIRED') : `valid ${until(end, now)} more`;
  const text = `identity ${id.spiffeId} (${id.source === 'registry' ? 'registry-issued' : 'from files'}, certificate ${left})`;
  return end > now && end - now < 0.2 * life ? c.red(text) : text;
}

function num(v: number, digits = 1): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** The central config a proxy runs, flagged when other proxies run a newer one or it refused a version. */
function configLine(cfg: NonNullable<RoutesSnapshot['config']>, newest: number | undefined, c: ReturnType<typeof painter>['c']): string {
  let line = `config version ${cfg.version}${cfg.file ? ` with local file ${cfg.file} over it` : ''}`;
  if (newest !== undefined && cfg.version < newest) line += c.red(` (OLDER: other proxies run version ${newest})`);
  if (cfg.refused !== undefined) line += c.red(` (refused version ${cfg.refused.version}: ${cfg.refused.reason})`);
  return line;
}

/** Several proxies' tables, each headed by its admin URL; the newest config version among them flags the rest. */
export function renderRoutesTables(snaps: Array<{ proxy: string; snap: RoutesSnapshot }>, opts: RenderOptions): string {
  const newest = Math.max(...snaps.map((s) => s.snap.config?.version ?? 0));
  return snaps.map(({ proxy, snap }) => `proxy ${proxy}\n${renderRoutesTable(snap, { ...opts, newestConfig: newest })}`).join('\n');
}

export function renderRoutesTable(snap: RoutesSnapshot, opts: RenderOptions): string {
  const { c, health } = painter(opts.color);
  let out = `registry ${snap.registry.url} ${snap.registry.connected ? 'connected' : c.red(`disconnected${snap.registry.lastError ? ` (${snap.registry.lastError})` : ''}`)}, index ${snap.index}\n`;
  if (snap.config !== undefined) out += `${configLine(snap.config, opts.newestConfig, c)}\n`;
  if (snap.identity !== undefined) out += `${identityLine(snap.identity, opts.now, c)}\n`;
  if (snap.services.length === 0) return `${out}no services in the route table\n`;
  for (const svc of snap.services) {
    const limit = svc.maxConcurrent === undefined ? '' : `/${svc.maxConcurrent}`;
    const peer = snap.identity !== undefined && svc.endpoints.some((e) => e.tlsPort !== undefined) ? `  mTLS peer spiffe://${snap.identity.trustDomain}/service/${svc.service}` : '';
    out += `\n${c.bold(svc.service)}  policy ${svc.policy}  ${activeTiers(svc.activeTier, svc.tiers, c.red)}  in-flight ${svc.inFlight}${limit}${peer}\n`;
    const rows = svc.endpoints.map((e) => [
      e.id,
      e.address,
      String(e.weight),
      String(e.priority),
      e.zone ?? '-',
      health(e.health),
      e.ejectedUntil !== undefined && e.ejectedUntil > opts.now ? c.red(`ejected ${until(e.ejectedUntil, opts.now)}`) : '-',
      String(e.inFlight),
      num(e.rps),
      e.ewmaMs === undefined ? '-' : `${num(e.ewmaMs)}ms`,
      e.eligible ? c.green('yes') : `no (${e.excludedBecause ?? 'excluded'})`,
    ]);
    out += plainTable(['ID', 'ADDRESS', 'WEIGHT', 'PRIORITY', 'ZONE', 'HEALTH', 'EJECTED', 'IN-FLIGHT', 'RPS', 'EWMA', 'ELIGIBLE'], rows);
  }
  return out;
}

const REASONS: Record<string, string> = {
  critical: 'health is critical',
  warning: 'health is warning (not counted as healthy for this service)',
  ejected: 'ejected by outlier detection',
  unreachable: 'connections to it fail; probed in the background until one succeeds',
  'inactive-tier': 'its priority tier is not taking traffic',
  subset: 'not in the route\'s subset',
};

export function renderExplain(r: ExplainResult, opts: RenderOptions): string {
  const { c, health } = painter(opts.color);
  let out = `request  ${r.method} http://${r.authority}${r.path}\n`;
  out += `service  ${r.service ?? c.red('none')}\n`;
  if (r.policy) out += `policy   ${r.policy}\n`;
  if (r.service !== null && r.policy) {
    out += r.route === null
      ? 'route    no rule matches: the whole service\n'
      : `route    rule #${r.route.index}: path prefix ${r.route.pathPrefix}${Object.keys(r.route.headers).length ? `, headers ${Object.entries(r.route.headers).map(([k, v]) => `${k}: ${v}`).join(', ')}` : ''}\n`;
    if (r.headerRules !== undefined) {
      const h = r.headerRules;
      out += `headers  names with "_" are ${h.underscores} (allowUnderscoresInHeaders: ${h.underscores === 'forwarded'})${h.dropped.length > 0 ? c.yellow(`; dropping ${h.dropped.join(', ')}`) : ''}\n`;
    }
    if (r.subsets.length > 1 || Object.keys(r.subsets[0]?.tags ?? {}).length > 0) {
      for (const s of r.subsets) {
        out += `subset   ${Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(',') || '(all)'}  ${pct(s.share)} of traffic, ${activeTiers(s.activeTier, s.tiers, c.red)}, ${s.eligible} eligible\n`;
      }
    }
  }
  if (r.settingSources !== undefined) out += `${settingsLine(r.settingSources)}\n`;
  out += r.outcome.forwarded
    ? `outcome  ${c.green('forwarded')}${r.unroutableShare > 0 ? c.yellow(` (${pct(r.unroutableShare)} would get 503: their subset has no eligible endpoint)`) : ''}\n`
    : `outcome  ${c.red(`${r.outcome.status} ${r.outcome.code}`)}: ${r.outcome.reason}\n`;
  if (r.endpoints.length === 0) return out;
  const sorted = [...r.endpoints].sort((a, b) => b.chance - a.chance || (a.id < b.id ? -1 : 1));
  const rows = sorted.map((e) => [
    e.id, e.address, String(e.priority), String(e.weight), health(e.health),
    e.eligible ? c.green(pct(e.chance)) : '-',
    e.eligible ? 'eligible' : `${REASONS[e.excludedBecause ?? ''] ?? e.excludedBecause}${e.ejectedUntil !== undefined ? ` for ${until(e.ejectedUntil, opts.now)}` : ''}`,
  ]);
  return `${out}\n${plainTable(['ID', 'ADDRESS', 'PRIORITY', 'WEIGHT', 'HEALTH', 'CHANCE', 'WHY'], rows)}`;
}

/** `config   version 12; local file: timeout; central: retries, routes; built-in: the rest` */
function settingsLine(s: NonNullable<ExplainResult['settingSources']>): string {
  const by = new Map<string, string[]>();
  for (const [field, from] of Object.entries(s.fields)) {
    if (from === 'built-in') continue;
    by.set(from, [...(by.get(from) ?? []), field]);
  }
  const label: Record<string, string> = { file: 'local file', central: 'central', 'file defaults': 'local file defaults', 'central defaults': 'central defaults' };
  const parts = [...by].map(([from, fields]) => `${label[from] ?? from}: ${fields.join(', ')}`);
  return `config   central version ${s.version}; ${parts.length > 0 ? `${parts.join('; ')}; built-in: the rest` : 'every setting built-in'}`;
}

/** "active tier 0", or "active tiers 0 (70%), 1 (30%)" while a degraded tier spills traffic to the next. */
function activeTiers(lowest: number | null, tiers: ReadonlyArray<{ priority: number; load: number }> | undefined, red: (s: string) => string): string {
  const loaded = tiers?.filter((t) => t.load > 0) ?? [];
  if (loaded.length > 1) return `active tiers ${loaded.map((t) => `${t.priority} (${t.load}%)`).join(', ')}`;
  return `active tier ${lowest ?? red('none')}`;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
