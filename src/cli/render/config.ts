// Renderers for `mesh config`: pure functions of the API's answers (the --json output is the answer itself).
import { stringify } from 'yaml';
import type { EntryDiff } from '../../config/central.js';
import type { CentralConfigResponse, ConfigHistoryRow, ConfigWriteResponse } from '../../registry/client.js';
import { plainTable } from './table.js';

const value = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));

/** One block per changed entry: its name and change, then `field: old → new` lines. */
export function renderDiff(diff: EntryDiff[]): string {
  if (diff.length === 0) return 'no changes\n';
  let out = '';
  for (const d of diff) {
    out += `${d.entry} ${d.change}\n`;
    for (const f of d.fields) {
      out += d.change === 'changed' ? `  ${f.field}: ${value(f.from)} → ${value(f.to)}\n` : `  ${f.field}: ${value(d.change === 'added' ? f.to : f.from)}\n`;
    }
  }
  return out;
}

export function renderWrite(r: ConfigWriteResponse): string {
  const tail = r.dryRun
    ? `dry run: nothing applied (version ${r.version} stays in force)\n`
    : r.changed ? `applied as version ${r.version}\n` : `nothing to change (version ${r.version} stays in force)\n`;
  return renderDiff(r.diff) + tail;
}

export function renderConfig(r: CentralConfigResponse): string {
  if (r.version === 0) return '# no central config yet: proxies run their own --config files and the built-in defaults\n';
  const when = r.at === null ? '' : ` at ${new Date(r.at).toISOString()}`;
  const body: Record<string, unknown> = { ...r.config.proxy };
  if (r.config.authz !== null) body.authz = r.config.authz;
  return `# version ${r.version}${when} (${r.change})\n${Object.keys(body).length === 0 ? '{}\n' : stringify(body)}`;
}

export function renderEntry(service: string, version: number, entry: unknown): string {
  return `# ${service}, version ${version}\n${stringify(entry)}`;
}

export function renderHistory(versions: ConfigHistoryRow[]): string {
  if (versions.length === 0) return 'no config versions yet\n';
  return plainTable(['VERSION', 'AT', 'CHANGE', 'ENTRIES'], versions.map((v) => [
    String(v.version), new Date(v.at).toISOString(), v.change, v.entries.join(', ') || '-',
  ]));
}
