// The JSON a proxy's admin server gives `mesh trace`: spans with their tries and retry events, and one-line
// summaries of recent traces. Types only plus one converter, so the CLI can import the types for nothing.
import { fateOf, isError, spanAttributes, spanName } from './attributes.js';
import { SpanKind, type Span, type SpanEvent, type SpanTry } from './span.js';

export interface TraceSpanJson {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: 'client' | 'server';
  name: string;
  service: string;
  method: string;
  path: string;
  startEpochMs: number;
  durationMs: number;
  status: number;
  error: boolean;
  fate: string;
  cause: string | null;
  tries: SpanTry[];
  events: SpanEvent[];
  attributes: Record<string, string | number | boolean>;
}

export interface TraceSummary {
  traceId: string;
  /** The service of the trace's first span on this proxy. */
  service: string;
  method: string;
  path: string;
  status: number;
  error: boolean;
  startEpochMs: number;
  durationMs: number;
  spans: number;
  retries: number;
}

export function spanToJson(span: Span): TraceSpanJson {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId ?? null,
    kind: span.kind === SpanKind.server ? 'server' : 'client',
    name: spanName(span),
    service: span.service,
    method: span.method,
    path: span.path,
    startEpochMs: span.startEpochMs,
    durationMs: span.durationMs,
    status: span.status,
    error: isError(span),
    fate: fateOf(span),
    cause: span.cause ?? null,
    tries: span.tries,
    events: span.events ?? [],
    attributes: Object.fromEntries(spanAttributes(span)),
  };
}

/** One summary per trace id, from the spans of that trace (any order), newest trace first. */
export function summarize(spans: readonly TraceSpanJson[]): TraceSummary[] {
  const byTrace = new Map<string, TraceSpanJson[]>();
  for (const s of spans) {
    const list = byTrace.get(s.traceId);
    if (list === undefined) byTrace.set(s.traceId, [s]); else list.push(s);
  }
  const out: TraceSummary[] = [];
  for (const [traceId, list] of byTrace) {
    list.sort((a, b) => a.startEpochMs - b.startEpochMs);
    const first = list[0]!;
    let end = 0;
    let retries = 0;
    for (const s of list) { end = Math.max(end, s.startEpochMs + s.durationMs); retries += Math.max(0, s.tries.length - 1); }
    out.push({
      traceId, service: first.service, method: first.method, path: first.path, status: first.status,
      error: list.some((s) => s.error), startEpochMs: first.startEpochMs, durationMs: end - first.startEpochMs, spans: list.length, retries,
    });
  }
  return out.sort((a, b) => b.startEpochMs - a.startEpochMs);
}
