// The endpoint view lists every endpoint the balancer knows: one that has had no traffic yet (a backup)
// shows with zero rate and dashes for the numbers it does not have, not as a missing row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import type { EndpointStatsFrame } from '../../../src/core/admin-types.js';
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
