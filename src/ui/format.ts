// Pure formatting for the dashboard: numbers to short strings, sparklines, fitting columns to a width.

export function fmtRps(v: number): string {
  if (v >= 10_000) return `${(v / 1000).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

/** 0.99123 → "99.12%"; null → "-". */
export function fmtRate(v: number | null): string {
  return v === null ? '-' : `${(v * 100).toFixed(2)}%`;
}

/** Milliseconds with sensible precision: "0.42ms", "12.3ms", "1.25s". */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v >= 1000) return `${(v / 1000).toFixed(2)}s`;
  if (v >= 100) return `${v.toFixed(0)}ms`;
  if (v >= 10) return `${v.toFixed(1)}ms`;
  return `${v.toFixed(2)}ms`;
}

export function fmtCount(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v));
}

/** "25s", "3m10s"; "-" when not in the future. */
export function fmtUntil(epochMs: number | undefined, now: number): string {
  if (epochMs === undefined || epochMs <= now) return '-';
  const s = Math.ceil((epochMs - now) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const BARS = '▁▂▃▄▅▆▇█';

/** The last `width` values as block characters scaled to the largest; blanks pad the left. */
export function sparkline(values: readonly number[], width: number): string {
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail);
  const bars = tail.map((v) => (max === 0 ? BARS[0]! : BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5))]!)).join('');
  return bars.padStart(width, ' ');
}

/** Cuts a string to `width` characters, marking the cut with "…". */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `${s.slice(0, width - 1)}…`;
}

export interface Column<Row> {
  key: string;
  title: string;
  width: number;
  align?: 'left' | 'right';
  /** Kept when the terminal is narrow (the first column is always kept). */
  essential?: boolean;
  cell(row: Row): string;
  color?(row: Row): string | undefined;
}

/**
 * The columns that fit in `width` (one space between columns), dropping optional columns from the right
 * first, then essential ones; the first column shrinks last so the name stays readable.
 */
export function fitColumns<Row>(columns: readonly Column<Row>[], width: number): Column<Row>[] {
  const total = (cols: readonly Column<Row>[]) => cols.reduce((a, c) => a + c.width, 0) + Math.max(0, cols.length - 1);
  let cols = [...columns];
  for (let i = cols.length - 1; i > 0 && total(cols) > width; i--) if (!cols[i]!.essential) cols.splice(i, 1);
  while (cols.length > 1 && total(cols) > width) cols.pop();
  if (total(cols) > width) cols = [{ ...cols[0]!, width: Math.max(1, width) }];
  return cols;
}

export function padCell(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = truncate(s, width);
  return align === 'right' ? t.padStart(width) : t.padEnd(width);
}
