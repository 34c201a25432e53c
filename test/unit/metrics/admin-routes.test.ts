import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StatsFrame } from '../../../src/core/admin-types.js';
import { createMetricsAdmin } from '../../../src/metrics/admin-routes.js';
import { ProxyMetrics } from '../../../src/metrics/recorder.js';
import { Fate, NOOP_METRICS, type MeshMetrics } from '../../../src/metrics/types.js';

async function serve(metrics: MeshMetrics, frameIntervalMs = 50) {
  const admin = createMetricsAdmin(metrics, { frameIntervalMs });
  const server: Server = createServer((req, res) => {
    if (admin.handle(req, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { admin, base, close: () => { admin.close(); server.closeAllConnections(); return new Promise((r) => server.close(r)); } };
}

function load(metrics: ProxyMetrics) {
  const svc = metrics.service('orders');
  const ep = svc.endpoint('orders-1', '127.0.0.1:9001');
  const ep2 = svc.endpoint('weird"id\\x', '127.0.0.1:9002');
  for (let i = 0; i < 30; i++) {
    svc.requestStarted(); ep.requestStarted();
    ep.requestEnded(i < 27 ? 200 : 503, i * 3); ep.bodyBytes(200, 100);
    svc.requestEnded(i < 27 ? Fate.ok : Fate.failed, i < 27 ? 200 : 503, i * 3);
  }
  ep2.requestStarted(); ep2.requestEnded(0, 2);
  svc.retry(); ep.ejection(); svc.policyDenial(); metrics.inboundTlsHandshakeFailure();
}

test('GET /metrics is valid Prometheus text that promtool accepts', { timeout: 15_000 }, async (t) => {
  const metrics = new ProxyMetrics();
  load(metrics);
  const s = await serve(metrics);
  t.after(s.close);
  const res = await fetch(`${s.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^mesh_requests_total\{service="orders",endpoint="orders-1",code_class="2xx"\} 27$/m);
  assert.match(text, /^mesh_requests_total\{service="orders",endpoint="orders-1",code_class="5xx"\} 3$/m);
  assert.match(text, /^mesh_requests_total\{service="orders",endpoint="weird\\"id\\\\x",code_class="error"\} 1$/m);
  assert.match(text, /^mesh_request_duration_seconds_bucket\{service="orders",endpoint="orders-1",le="\+Inf"\} 30$/m);
  assert.match(text, /^mesh_request_duration_seconds_bucket\{service="orders",endpoint="orders-1",le="0.01"\} 4$/m);
  assert.match(text, /^mesh_request_duration_seconds_count\{service="orders",endpoint="orders-1"\} 30$/m);
  assert.match(text, /^mesh_request_fates_total\{service="orders",fate="ok"\} 27$/m);
  assert.match(text, /^mesh_retries_total\{service="orders"\} 1$/m);
  assert.match(text, /^mesh_ejections_total\{service="orders",endpoint="orders-1"\} 1$/m);
  assert.match(text, /^mesh_response_bytes_total\{service="orders",endpoint="orders-1"\} 3000$/m);
  assert.match(text, /^mesh_requests_in_flight\{service="orders",endpoint="orders-1"\} 0$/m);
  assert.doesNotMatch(text, /nodejs_|process_/);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
});

test('GET /stats streams one frame at once and then on every interval', { timeout: 15_000 }, async (t) => {
  const metrics = new ProxyMetrics();
  load(metrics);
  metrics.tick();
  const s = await serve(metrics);
  t.after(s.close);
  const frames: StatsFrame[] = [];
  await new Promise<void>((resolve, reject) => {
    const req = request(`${s.base}/stats`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (data) frames.push(JSON.parse(data.slice(6)));
          if (frames.length === 3) { req.destroy(); resolve(); }
        }
      });
    });
    req.on('error', (e) => { if (frames.length < 3) reject(e); });
    req.end();
  });
  const orders = frames[0]!.services.find((x) => x.service === 'orders')!;
  assert.equal(orders.requests, 30);
  assert.equal(orders.successRate, 0.9);
  assert.equal(orders.fates.ok, 27);
  assert.equal(frames[2]!.services[0]!.requests, 30);
});

test('with metrics disabled both paths answer 404 with a JSON error; other paths fall through', { timeout: 10_000 }, async (t) => {
  const s = await serve(NOOP_METRICS);
  t.after(s.close);
  const res = await fetch(`${s.base}/metrics`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MESH_ERR_NOT_FOUND');
  assert.equal((await fetch(`${s.base}/other`)).status, 404);
  assert.equal((await fetch(`${s.base}/stats`, { method: 'POST' })).status, 405);
});
