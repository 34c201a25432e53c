// GET /traces and GET /traces/<trace id> on a proxy's admin server (and the sidecar's --inbound-admin): what
// `mesh trace` reads. Off the request path; answers from the tracer's ring.
//   GET /traces[?service=<name>][&slowest=1][&limit=<n>]   → { traces: TraceSummary[] }
//   GET /traces/<32 hex digits>                           → { traceId, spans: TraceSpanJson[] }
import type { IncomingMessage, ServerResponse } from 'node:http';
import { spanToJson, summarize } from './json.js';
import type { Tracer } from './tracer.js';

const TRACE_ID = /^[0-9a-f]{32}$/;
const DEFAULT_LIMIT = 50;

/** Answers /traces and /traces/<id>; false for any other path. */
export function handleTracesRequest(req: IncomingMessage, res: ServerResponse, tracer: Tracer | undefined): boolean {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  if (path !== '/traces' && !path.startsWith('/traces/')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    json(res, 405, { error: { code: 'MESH_ERR_METHOD_NOT_ALLOWED', message: `${req.method} ${path} is not allowed; use GET` } });
    return true;
  }
  if (tracer === undefined) {
    json(res, 404, { error: { code: 'MESH_ERR_NOT_FOUND', message: 'tracing is off on this proxy: start it with --trace-sample <ratio> or --trace-endpoint <url>' } });
    return true;
  }
  if (path === '/traces') {
    const service = url.searchParams.get('service') ?? undefined;
    const limit = Number(url.searchParams.get('limit') ?? DEFAULT_LIMIT);
    if (!Number.isInteger(limit) || limit < 1) {
      json(res, 400, { error: { code: 'MESH_ERR_INVALID_ARGUMENT', message: `limit "${url.searchParams.get('limit')}" must be a positive whole number` } });
      return true;
    }
    const slowest = url.searchParams.get('slowest') === '1';
    const spans = slowest ? tracer.ring.slowest(service) : tracer.ring.recent().filter((s) => service === undefined || s.service === service);
    const traces = summarize(spans.map(spanToJson));
    if (slowest) traces.sort((a, b) => b.durationMs - a.durationMs);
    json(res, 200, { traces: traces.slice(0, limit) });
    return true;
  }
  const id = path.slice('/traces/'.length).toLowerCase();
  if (!TRACE_ID.test(id)) {
    json(res, 400, { error: { code: 'MESH_ERR_INVALID_ARGUMENT', message: `"${id}" is not a trace id (32 hex digits)` } });
    return true;
  }
  json(res, 200, { traceId: id, spans: tracer.ring.trace(id).map(spanToJson) });
  return true;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
