// `mesh registry status` as aligned "label: value" lines (the --json form prints the same value as JSON, with
// the stores' own field names). The stores report extra facts as camelCase keys (journalBytes,
// unreachableForMs …); a person reads labels, so each known key has one, and a key a store adds later still
// reads as words, with its unit (…Ms, …Bytes) turned into a duration or a size.
import { formatDuration } from '../../core/duration.js';
import type { RegistryStatusResponse } from '../../registry/client.js';

const DETAIL_LABELS: Record<string, string> = {
  dataDir: 'data dir',
  journalBytes: 'journal size',
  journalRecords: 'journal records',
  snapshotIndex: 'snapshot index',
  replayMs: 'replay time',
  skippedBytes: 'skipped journal data',
  endpoints: 'etcd endpoints',
  prefix: 'etcd prefix',
  revision: 'etcd revision',
  connected: 'connected to etcd',
  member: 'member id',
  members: 'live members',
  unreachableForMs: 'etcd unreachable for',
};

export function renderRegistryStatus(s: RegistryStatusResponse, url: string): string {
  const rows: [string, string][] = [
    ['registry', url],
    ['version', s.version],
    ['uptime', formatDuration(s.uptimeMs)],
    ['listen', s.listen],
    ...(s.dns === undefined ? [] : [['dns', `${s.dns} (domain ${s.dnsDomain ?? 'mesh'}.)`] as [string, string]]),
    ['store', `${s.kind}${s.readOnly ? ' (read-only' + (s.reason ? `: ${s.reason}` : '') + ')' : ''}`],
    ['index', String(s.index)],
    ['services', String(s.services)],
    ['instances', String(s.instances)],
  ];
  const shown = new Set(rows.map(([k]) => k));
  for (const [k, v] of Object.entries(s.details).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!shown.has(k)) rows.push([DETAIL_LABELS[k] ?? words(k), formatDetail(k, v)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('');
}

/** camelCase → "camel case", without a unit suffix the value's formatting already shows. */
function words(key: string): string {
  return key.replace(/(Ms|Bytes)$/, '').replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
}

function formatDetail(key: string, value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' && key.endsWith('Ms')) return formatDuration(value);
  if (typeof value === 'number' && key.endsWith('Bytes')) return formatBytes(value);
  return String(value);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
