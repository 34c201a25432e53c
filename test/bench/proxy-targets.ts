// The issue-13 targets for `npm run bench:proxy`, checked per mesh row and printed as PASS or MISS. Every ratio
// to nginx (and the added p99, against direct) is computed within one round, where both ran in the same minute
// of a shared machine, and the median over the rounds is what is judged.
import { median } from './proc-stats.js';

/** One target's figures in one round. cpuUs is null where no process was measured (direct). */
export interface RoundFigures { rps: number; p99: number; cpuUs: number | null; pacedP99: number }

export interface TargetRow { name: string; rssIdleMiB: number | null; rssPeakMiB: number | null }

/**
 * A target: its figure either from each round (own row, nginx's and direct's in the same round; the median of
 * the rounds is judged) or from the row as a whole (RSS).
 */
interface Check {
  label: string;
  limit: string;
  needsNginx: boolean;
  perRound?: (own: RoundFigures, nginx: RoundFigures | undefined, direct: RoundFigures) => number;
  fromRow?: (row: TargetRow) => number;
  pass: (v: number) => boolean;
  format: (v: number) => string;
}

const CHECKS: Check[] = [
  { label: 'CPU/req nginx÷mesh', limit: '≥ 0.50', needsNginx: true, pass: (v) => v >= 0.5, format: (v) => v.toFixed(2),
    perRound: (own, ng) => (own.cpuUs === null || ng?.cpuUs == null ? NaN : ng.cpuUs / own.cpuUs) },
  { label: 'req/s ÷ nginx', limit: '≥ 0.50', needsNginx: true, pass: (v) => v >= 0.5, format: (v) => v.toFixed(2),
    perRound: (own, ng) => (ng === undefined ? NaN : own.rps / ng.rps) },
  { label: 'sat. p99 ÷ nginx', limit: '≤ 2', needsNginx: true, pass: (v) => v <= 2, format: (v) => `${v.toFixed(1)}×`,
    perRound: (own, ng) => (ng === undefined ? NaN : own.p99 / ng.p99) },
  { label: '+p99 @1k req/s', limit: '≤ 0.5 ms', needsNginx: false, pass: (v) => v <= 0.5, format: (v) => `${v.toFixed(2)} ms`,
    perRound: (own, _ng, direct) => own.pacedP99 - direct.pacedP99 },
  { label: 'RSS idle', limit: '≤ 60 MiB', needsNginx: false, pass: (v) => v <= 60, format: (v) => `${v.toFixed(0)} MiB`,
    fromRow: (r) => r.rssIdleMiB ?? NaN },
  { label: 'RSS under load', limit: '≤ 90 MiB', needsNginx: false, pass: (v) => v <= 90, format: (v) => `${v.toFixed(0)} MiB`,
    fromRow: (r) => r.rssPeakMiB ?? NaN },
];


/** Each check's value (median of per-round figures) and verdict for one row; verdict '-' when it cannot be judged. */
export function judge(row: TargetRow, rounds: Map<string, RoundFigures>[], direct: string, nginx: string | undefined): Array<{ label: string; limit: string; text: string; verdict: 'PASS' | 'MISS' | '-' }> {
  const value = (c: Check): number => {
    if (c.needsNginx && nginx === undefined) return NaN;
    if (c.fromRow) return c.fromRow(row);
    return median(rounds.map((r) => c.perRound!(r.get(row.name)!, nginx === undefined ? undefined : r.get(nginx), r.get(direct)!)));
  };
  return CHECKS.map((c) => {
    const v = value(c);
    if (!Number.isFinite(v)) return { label: c.label, limit: c.limit, text: c.needsNginx && nginx === undefined ? 'no nginx' : '-', verdict: '-' as const };
    return { label: c.label, limit: c.limit, text: c.format(v), verdict: c.pass(v) ? 'PASS' as const : 'MISS' as const };
  });
}

export function printTargets(opts: { rows: TargetRow[]; rounds: Map<string, RoundFigures>[]; direct: string; nginx: string | undefined; out: (line: string) => void }): void {
  const width = 20;
  opts.out('\nissue-13 targets (HTTP/1.1; ratios within each round, then the median of the rounds; RSS: one worker, default flags, per process):');
  opts.out(['', ...CHECKS.map((c) => c.label)].map((h, i) => (i === 0 ? h.padEnd(24) : h.padStart(width))).join(''));
  opts.out(['target', ...CHECKS.map((c) => c.limit)].map((h, i) => (i === 0 ? h.padEnd(24) : h.padStart(width))).join(''));
  for (const row of opts.rows) {
    const cells = judge(row, opts.rounds, opts.direct, opts.nginx).map((j) => `${j.text} ${j.verdict}`.trim());
    opts.out([row.name.padEnd(24), ...cells.map((c) => c.padStart(width))].join(''));
  }
}
