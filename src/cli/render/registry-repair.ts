// `mesh registry repair` as one line per file it looked at (the --json form prints the same value as JSON).
import type { RepairReport } from '../../registry/store/embedded/repair.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function journalLine(j: RepairReport['journal']): string {
  if (!j.present) return `journal ${j.path}: none`;
  if (!j.rewritten) return `journal ${j.path}: ${plural(j.records, 'record')}, no damage; left untouched`;
  const dropped = j.damaged.map((d) => `${plural(d.bytes, 'damaged byte')} at byte ${d.offset}`);
  if (j.tornTailBytes > 0) dropped.push(`a torn tail of ${plural(j.tornTailBytes, 'byte')}`);
  return `journal ${j.path}: kept ${plural(j.records, 'record')} (${j.keptBytes} of ${j.bytes} bytes); dropped ${dropped.join(', ')}\n`
    + `  the original is saved as ${j.backup}`;
}

function snapshotLine(s: RepairReport['snapshot']): string {
  if (s.state === 'absent') return `snapshot ${s.path}: none`;
  if (s.state === 'ok') return `snapshot ${s.path}: readable; left untouched`;
  return `snapshot ${s.path}: corrupt, set aside as ${s.backup} (the registrations it held are gone; the journal's are kept)`;
}

export function renderRepairReport(r: RepairReport): string {
  return `${snapshotLine(r.snapshot)}\n${journalLine(r.journal)}\n`;
}
