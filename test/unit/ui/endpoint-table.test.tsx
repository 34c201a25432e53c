// The endpoint view lists every endpoint the balancer knows: one that has had no traffic yet (a backup)
// shows with zero rate and dashes for the numbers it does not have, not as a missing row; its STATE column
// says when it is out of service (unreachable or ejected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import type { EndpointStatsFrame, StatsFrame } from '../../../src/core/admin-types.js';
import { emptyFates, mergeFrames } from '../../../src/ui/aggregate.js';
import { EndpointTable } from '../../../src/ui/components/EndpointTable.js';

test('an idle backup endpoint is listed next to the busy ones', { timeout: 10_000 }, (t) => {
  const endpoints: EndpointStatsFrame[] = [
    { id: 'orders-1', address: '127.0.0.1:9001', rps: 40, successRate: 1, p50: 1, p95: 2, p99: 3, inFlight: 1, requests: 400, ewmaMs: 1.5 },
    { id: 'orders-backup', address: '127.0.0.1:9009', rps: 0, successRate: null, p50: null, p95: null, p99: null, inFlight: 0, requests: 0 },
  ];
  const app = render(<EndpointTable endpoints={endpoints} now={Date.now()} width={100} />);
  t.after(() => app.unmount());
  const out = app.lastFrame() ?? '';
  assert.match(out, /orders-1\s+127\.0\.0\.1:9001\s+40\.0\s+100\.00%/);
  assert.match(out, /orders-backup\s+127\.0\.0\.1:9009\s+0\.0\s+-\s+-\s+-\s+0\s+-\s+-/);
});

test('the STATE column shows an unreachable endpoint, and an ejected one with how much longer', { timeout: 10_000 }, (t) => {
  const now = 1_800_000_000_000;
  const signals = { rps: 0, successRate: null, p50: null, p95: null, p99: null, inFlight: 0, requests: 0 };
  const endpoints: EndpointStatsFrame[] = [
    { id: 'orders-1', address: '127.0.0.1:9001', ...signals, unreachableSince: now - 75_000 },
    { id: 'orders-2', address: '127.0.0.1:9002', ...signals, ejectedUntil: now + 25_000 },
    { id: 'orders-3', address: '127.0.0.1:9003', ...signals, unreachableSince: now - 3_000, ejectedUntil: now + 25_000 },
    { id: 'orders-4', address: '127.0.0.1:9004', ...signals },
  ];
  const app = render(<EndpointTable endpoints={endpoints} now={now} width={100} />);
  t.after(() => app.unmount());
  const out = app.lastFrame() ?? '';
  assert.match(out, /ENDPOINT\s+ADDRESS\s+RPS\s+SUCCESS\s+P50\s+P99\s+INFLIGHT\s+EWMA\s+STATE/);
  assert.match(out, /orders-1\s.*\sunreachable$/m);
  assert.match(out, /orders-2\s.*\sejected 25s$/m);
  assert.match(out, /orders-3\s.*\sunreachable$/m, 'unreachable wins: no traffic reaches it until a probe connects');
  assert.match(out, /orders-4\s.*\s-\s*$/m);
  // A narrow terminal keeps the state (an essential column).
  const narrow = render(<EndpointTable endpoints={endpoints} now={now} width={60} />);
  t.after(() => narrow.unmount());
  assert.match(narrow.lastFrame() ?? '', /orders-1\s.*unreachable$/m);
});

test('across proxies an endpoint is unreachable since the earliest proxy that found it so', () => {
  const frame = (unreachableSince?: number): StatsFrame => ({
    time: 0, windowMs: 10_000,
    services: [{
      service: 'orders', rps: 0, successRate: null, p50: null, p95: null, p99: null, inFlight: 0, requests: 0,
      fates: emptyFates(),
      endpoints: [{ id: 'orders-1', address: '127.0.0.1:9001', rps: 0, successRate: null, p50: null, p95: null, p99: null, inFlight: 0, requests: 0, ...(unreachableSince === undefined ? {} : { unreachableSince }) }],
    }],
  });
  assert.equal(mergeFrames([frame(), frame(2_000), frame(1_000)])[0]!.endpoints[0]!.unreachableSince, 1_000);
  assert.equal(mergeFrames([frame(), frame()])[0]!.endpoints[0]!.unreachableSince, undefined);
});
