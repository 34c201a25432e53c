// `mesh registry status` as aligned "key: value" lines (the --json form prints the same value as JSON).
import { formatDuration } from '../../core/duration.js';
import type { RegistryStatusResponse } from '../../registry/client.js';

export function renderRegistryStatus(s: RegistryStatusResponse, url: string): string {
  const rows: [string, string][] = [
    ['registry', url],
    ['version', s.version],
    ['uptime', formatDuration(s.uptimeMs)],
    ['listen', s.listen],
    ['store', `${s.kind}${s.readOnly ? ' (read-only' + (s.reason ? `: ${s.reason}` : '') + ')' : ''}`],
    ['index', String(s.index)],
    ['services', String(s.services)],
    ['instances', String(s.instances)],
  ];
  const shown = new Set(rows.map(([k]) => k));
  for (const [k, v] of Object.entries(s.details).sort(([a], [b]) => (a < b ? -1 : 1))) if (!shown.has(k)) rows.push([k, String(v)]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('');
}
