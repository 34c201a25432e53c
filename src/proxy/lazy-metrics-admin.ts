// GET /metrics and GET /stats on the admin server, with the metrics admin loaded on the first request to
// either. It brings prom-client (and the @opentelemetry/api it requires): ~2.5 MiB of heap that a proxy
// nobody scrapes never needs. Everything it reports is recorded from the start by ProxyMetrics, so a late
// start loses nothing: the first scrape sees the same counters and windows an early one would.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsAdmin } from '../metrics/admin-routes.js';

/** The part of the metrics admin the admin server calls. */
export type AdminMetrics = Pick<MetricsAdmin, 'handle' | 'close'>;

export function lazyMetricsAdmin(create: () => Promise<MetricsAdmin>): AdminMetrics {
  let loaded: MetricsAdmin | undefined;
  let loading: Promise<MetricsAdmin> | undefined;
  let closed = false;
  return {
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      if (loaded !== undefined) return loaded.handle(req, res);
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' && path !== '/stats') return false;
      loading ??= create().then((admin) => {
        loaded = admin;
        if (closed) admin.close();
        return admin;
      });
      loading.then((admin) => admin.handle(req, res), (err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'MESH_ERR_INTERNAL', message: `loading the metrics module failed: ${err.message}` } }));
      });
      return true;
    },
    close(): void {
      closed = true;
      loaded?.close();
    },
  };
}
