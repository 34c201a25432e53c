// The proxy's admin server (default 127.0.0.1:15000): GET /routes (the RoutesSnapshot that `mesh routes`
// reads), GET /healthz (the process is up), GET /ready (it has a route table), GET /explain (a dry run of
// routing), and GET /metrics + GET /stats from the metrics module. Off the request path; built on demand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { RoutesSnapshot } from '../core/admin-types.js';
import type { Clock } from '../core/clock.js';
import type { MetricsAdmin } from '../metrics/admin-routes.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { handleExplainRequest } from './explain.js';
import { handleTracesRequest } from '../tracing/admin-routes.js';
import type { Tracer } from '../tracing/tracer.js';

/** GET /metrics and /stats: the metrics admin, or the proxy's lazy front for it (lazy-metrics-admin.ts). */
type AdminMetrics = Pick<MetricsAdmin, 'handle'>;

export interface AdminSource {
  routes(): RoutesSnapshot;
  config(): ProxyConfig;
  /** Where a service's settings come from (local file, central config, built-in), for GET /explain. */
  settingSources?(service: string): { version: number; fields: Record<string, string> };
  /** Whether the proxy has a route table and is not draining. */
  ready(): { ready: boolean; reason?: string };
}

export function createAdminServer(source: AdminSource, clock: Clock, metrics: AdminMetrics | undefined, tracer?: Tracer): Server {
  const server = createServer((req, res) => {
    try {
      if (!handleTracesRequest(req, res, tracer)) handle(req, res, source, clock, metrics);
    } catch (err) {
      json(res, 500, { error: { code: 'MESH_ERR_INTERNAL', message: (err as Error).message } });
    }
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  return server;
}

function handle(req: IncomingMessage, res: ServerResponse, source: AdminSource, clock: Clock, metrics: AdminMetrics | undefined): void {
  if (metrics?.handle(req, res)) return;
  if (handleExplainRequest(req, res, source, clock)) return;
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    json(res, 405, { error: { code: 'MESH_ERR_METHOD_NOT_ALLOWED', message: `${req.method} ${path} is not allowed; use GET` } });
    return;
  }
  switch (path) {
    case '/routes':
      json(res, 200, source.routes());
      return;
    case '/healthz':
      json(res, 200, { status: 'ok' });
      return;
    case '/ready': {
      const r = source.ready();
      json(res, r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not-ready', reason: r.reason });
      return;
    }
    default:
      json(res, 404, { error: { code: 'MESH_ERR_NOT_FOUND', message: `no admin endpoint ${path}; try /routes, /healthz, /ready, /explain, /metrics, /stats or /traces` } });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
