// GET /metrics (Prometheus text) and GET /stats (server-sent events, one StatsFrame a second) for the proxy's
// admin server. The proxy mounts them with one call:
//
//   const observability = createMetricsAdmin(metrics, { accessLog });   // metrics: ProxyMetrics | NOOP_METRICS
//   adminServer.on('request', (req, res) => {
//     if (observability.handle(req, res)) return;    // true when it answered /metrics or /stats
//     ... /routes, /healthz ...
//   });
//   // on shutdown, before adminServer.close():
//   observability.close();                            // ends the /stats streams so close() can finish
//
// One timer builds one frame a second and writes it to every /stats subscriber; no timer runs without them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import type { ProxyIdentity, StatsFrame } from '../core/admin-types.js';
import type { AccessLog } from './access-log.js';
import { prometheusRegistry, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
import { ProxyMetrics } from './recorder.js';
import { StatsFrameBuilder } from './stats-frame.js';
import type { MeshMetrics } from './types.js';

export interface MetricsAdmin {
  /** Answers GET /metrics and GET /stats; returns false for any other path (the caller handles it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The current frame, as /stats would send it (for tests and the demo's summary). */
  frame(): StatsFrame;
  /** Ends /stats streams and stops the frame timer. */
  close(): void;
}

export interface MetricsAdminOptions {
  accessLog?: AccessLog;
  /** Interval between /stats frames (ms); 1000 unless a test wants faster. */
  frameIntervalMs?: number;
  /** Adds more metrics to the /metrics registry (e.g. the proxy's identity expiry). */
  extraMetrics?: (registry: Registry) => void;
  /** The proxy's own identity, added to each /stats frame. */
  identity?: () => ProxyIdentity;
  /** The span exporter's counters, when tracing is on. */
  tracing?: { readonly dropped: number; readonly exported: number };
}

export function createMetricsAdmin(metrics: MeshMetrics, opts: MetricsAdminOptions = {}): MetricsAdmin {
  const real = metrics instanceof ProxyMetrics ? metrics : undefined;
  const builder = real ? new StatsFrameBuilder(real) : undefined;
  const registry = real ? prometheusRegistry(real, (r) => { accessLogMetrics(r, opts.accessLog); tracingMetrics(r, opts.tracing); opts.extraMetrics?.(r); }) : undefined;
  const subscribers = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  const bare = (): StatsFrame => builder?.frame() ?? { time: Date.now(), windowMs: 0, services: [] };
  const frame = opts.identity === undefined ? bare : (): StatsFrame => ({ ...bare(), identity: opts.identity!() });

  const broadcast = () => {
    const data = `data: ${JSON.stringify(frame())}\n\n`;
    for (const res of subscribers) res.write(data);
  };
  const unsubscribe = (res: ServerResponse) => {
    subscribers.delete(res);
    if (subscribers.size === 0 && timer) { clearInterval(timer); timer = undefined; }
  };
  const close = () => {
    for (const res of [...subscribers]) { unsubscribe(res); res.end(); }
  };
  const stopOnClose = real?.onClose(close);

  return {
    frame,
    close() { stopOnClose?.(); close(); },
    handle(req, res) {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' && path !== '/stats') return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(res, 405, 'MESH_ERR_METHOD_NOT_ALLOWED', `${req.method} ${path} is not allowed; use GET`);
        return true;
      }
      if (!registry) {
        sendError(res, 404, 'MESH_ERR_NOT_FOUND', 'metrics are disabled on this proxy (started with --no-metrics)');
        return true;
      }
      if (path === '/metrics') {
        registry.metrics().then(
          (text) => { res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }); res.end(req.method === 'HEAD' ? undefined : text); },
          (err: Error) => sendError(res, 500, 'MESH_ERR_INTERNAL', `collecting metrics failed: ${err.message}`),
        );
        return true;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.flushHeaders();
      subscribers.add(res);
      res.write(`retry: 1000\ndata: ${JSON.stringify(frame())}\n\n`);
      if (!timer) { timer = setInterval(broadcast, opts.frameIntervalMs ?? 1000); timer.unref(); }
      res.on('close', () => unsubscribe(res));
      return true;
    },
  };
}

function accessLogMetrics(registry: Registry, log: AccessLog | undefined): void {
  if (!log) return;
  new Counter({
    name: 'mesh_access_log_dropped_total', help: 'Access log lines dropped because the writer fell behind.',
    registers: [registry],
    collect() { this.reset(); this.inc(log.dropped); },
  });
}

function tracingMetrics(registry: Registry, tracing: MetricsAdminOptions['tracing']): void {
  if (!tracing) return;
  new Counter({
    name: 'mesh_trace_spans_dropped_total', help: 'Spans dropped: the export queue was full, or the collector refused or never took their batch.',
    registers: [registry],
    collect() { this.reset(); this.inc(tracing.dropped); },
  });
  new Counter({
    name: 'mesh_trace_spans_exported_total', help: 'Spans the collector accepted.',
    registers: [registry],
    collect() { this.reset(); this.inc(tracing.exported); },
  });
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
}
