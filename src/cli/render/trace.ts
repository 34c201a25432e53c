// `mesh trace` output, as pure functions of the data (golden-tested): the list of recent traces, and one
// trace's waterfall — a bar per span on one time axis, nested by parent, and under each span its tries with
// their phases: waiting for a connection (queue, TCP connect and TLS when a new one was opened), waiting for
// the first response byte, and the body. A retried try shows why it was given up.
import chalk from 'chalk';
import type { TraceSpanJson, TraceSummary } from '../../tracing/json.js';
import { fmtMs, truncate } from '../../ui/format.js';
import { plainTable } from './table.js';

export interface TraceRenderOptions { color: boolean; now: number; barWidth?: number }

const LABEL_MAX = 44;
const SPAN_BAR = '━';
const CONNECT = '·';
const WAIT = '░';
const BODY = '▓';

export function renderTraceList(traces: readonly TraceSummary[], opts: TraceRenderOptions): string {
  if (traces.length === 0) return 'no traces recorded yet (is tracing on? mesh proxy start --trace-sample <ratio>)\n';
  const red = (s: string, bad: boolean) => (opts.color && bad ? chalk.red(s) : s);
  return plainTable(['TRACE', 'AGE', 'SERVICE', 'REQUEST', 'STATUS', 'DURATION', 'SPANS', 'RETRIES'], traces.map((t) => [
    t.traceId, fmtAge(opts.now - t.startEpochMs), t.service, truncate(`${t.method} ${t.path}`, 40), red(String(t.status), t.error), fmtMs(t.durationMs), String(t.spans), String(t.retries),
  ]));
}

interface Row { label: string; status: string; duration: string; bar: string; error: boolean }

export function renderWaterfall(traceId: string, spans: readonly TraceSpanJson[], opts: TraceRenderOptions): string {
  if (spans.length === 0) return `trace ${traceId}: no spans\n`;
  const width = opts.barWidth ?? 40;
  const t0 = Math.min(...spans.map((s) => s.startEpochMs));
  const t1 = Math.max(...spans.map((s) => s.startEpochMs + s.durationMs));
  const total = Math.max(t1 - t0, 0.001);
  const col = (ms: number) => Math.min(width - 1, Math.max(0, Math.floor(((ms - t0) / total) * width)));
  const cols = (fromMs: number, toMs: number) => Math.max(1, Math.round(((toMs - fromMs) / total) * width));
  const bar = (fromMs: number, toMs: number, ch: string) => ' '.repeat(col(fromMs)) + ch.repeat(Math.min(cols(fromMs, toMs), width - col(fromMs)));

  const rows: Row[] = [];
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, TraceSpanJson[]>();
  const roots: TraceSpanJson[] = [];
  for (const s of spans) {
    if (s.parentSpanId !== null && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const walk = (s: TraceSpanJson, depth: number) => {
    const indent = '  '.repeat(depth);
    const what = s.name === s.method ? `${s.method} ${s.path}` : s.name;
    rows.push({
      label: `${indent}${s.kind} ${s.service} ${what}`,
      status: statusOf(s), duration: fmtMs(s.durationMs), bar: bar(s.startEpochMs, s.startEpochMs + s.durationMs, SPAN_BAR), error: s.error,
    });
    s.tries.forEach((t, i) => {
      const start = s.startEpochMs + t.start;
      const end = s.startEpochMs + (t.end >= 0 ? t.end : s.durationMs);
      const connected = t.connected >= 0 ? s.startEpochMs + t.connected : end;
      const headers = t.headers >= 0 ? s.startEpochMs + t.headers : end;
      const phases = t.connected < 0 ? `no connection after ${fmtMs(end - start)}`
        : t.headers < 0 ? `conn ${fmtMs(connected - start)} no answer in ${fmtMs(end - connected)}`
          : `conn ${fmtMs(connected - start)} ttfb ${fmtMs(headers - connected)} body ${fmtMs(end - headers)}`;
      // Phases are drawn from column boundaries so they add up to the try's span; at least one mark shows.
      let marks = CONNECT.repeat(Math.max(0, col(connected) - col(start))) + WAIT.repeat(Math.max(0, col(headers) - col(connected)))
        + (t.headers >= 0 ? BODY.repeat(Math.max(0, col(end) - col(headers))) : '');
      if (marks === '') marks = t.headers >= 0 ? BODY : t.connected >= 0 ? WAIT : CONNECT;
      const tryBar = ' '.repeat(col(start)) + marks;
      rows.push({
        label: `${indent}  try ${i + 1} ${t.endpoint}`,
        status: t.failure !== '' ? `${t.status > 0 ? `${t.status} ` : ''}${t.failure}` : String(t.status), duration: phases, bar: tryBar.slice(0, width), error: t.failure !== '',
      });
    });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startEpochMs - b.startEpochMs)) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);

  const labelW = Math.min(LABEL_MAX, Math.max(...rows.map((r) => r.label.length)));
  const statusW = Math.max(6, ...rows.map((r) => r.status.length));
  const durW = Math.max(8, ...rows.map((r) => r.duration.length));
  const red = (s: string, bad: boolean) => (opts.color && bad ? chalk.red(s) : s);
  const axis = `0${' '.repeat(Math.max(1, width - 1 - fmtMs(total).length))}${fmtMs(total)}`;
  const services = new Set(spans.map((s) => s.service)).size;
  const out = [
    `trace ${traceId}  ${spans.length} ${spans.length === 1 ? 'span' : 'spans'} across ${services} ${services === 1 ? 'service' : 'services'}  ${fmtMs(total)}  started ${new Date(t0).toISOString()}`,
    `${'SPAN'.padEnd(labelW)}  ${'STATUS'.padEnd(statusW)}  ${'TIME'.padEnd(durW)}  ${axis}`,
    ...rows.map((r) => `${truncate(r.label, labelW).padEnd(labelW)}  ${red(r.status.padEnd(statusW), r.error)}  ${r.duration.padEnd(durW)}  ${r.bar}`.trimEnd()),
    `${SPAN_BAR} span   ${CONNECT} waiting for a connection (queue, connect, TLS)   ${WAIT} waiting for the first byte   ${BODY} body`,
  ];
  return `${out.join('\n')}\n`;
}

function statusOf(s: TraceSpanJson): string {
  const grpc = s.attributes['rpc.grpc.status_code'];
  const base = grpc !== undefined ? `grpc ${grpc}` : s.status > 0 ? String(s.status) : '-';
  return s.cause !== null && s.cause !== 'client-closed' ? `${base} ${s.cause}` : base;
}

function fmtAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
