// The `mesh demo --no-ui` summary: its headline's numbers add up to the table's (golden file), and it names the
// requests the table does not count and the beats skipped while the mesh started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DemoSummary } from '../../../src/demo/summary.js';
import { demoHeadline, renderDemoSummary } from '../../../src/cli/render/demo.js';
import { golden } from '../../helpers/golden.js';

const endpoint = { address: '127.0.0.1:9001', priority: 0, rps: 20, successRate: 1, p99: 12, ejections: 0, state: 'eligible' };
const service = (name: string, requests: number, okAfterRetry = 0, failed = 0) => ({
  service: name, requests, ok: requests - okAfterRetry - failed, okAfterRetry, failed, rps: 40, successRate: 1, p50: 3, p99: 12,
  endpoints: [{ ...endpoint, id: `${name}-1` }],
});
const urls = { registry: 'http://127.0.0.1:1', proxy: 'http://127.0.0.1:2', admin: 'http://127.0.0.1:3' };

/** Start-up as it happens: 12 beats skipped while 64 requests waited, 3 requests refused before the proxy listened. */
const startUp: DemoSummary = {
  durationMs: 10_020, urls,
  load: { sent: 1_203, ok: 1_190, failed: 13, skipped: 12 },
  services: [service('orders', 400, 38, 10), service('users', 400), service('web', 400)],
};

test('demo summary: the headline adds up to the table and names what the table does not count', () => {
  const text = renderDemoSummary(startUp);
  golden('demo-summary.txt', text);
  const tableTotal = startUp.services.reduce((n, s) => n + s.requests, 0);
  assert.match(text, new RegExp(`^mesh demo ran for 10\\.0s: 1203 requests sent \\(${tableTotal} counted in the table below, 3 never reached the proxy\\)`));
  assert.match(text, /\n12 more were skipped, not sent, while 64 requests were still waiting for answers \(as during start-up\)\.\n/);
});

test('demo headline when every request reached the proxy and none was skipped', () => {
  const clean: DemoSummary = { ...startUp, load: { sent: 1_200, ok: 1_190, failed: 10, skipped: 0 } };
  assert.equal(demoHeadline(clean), 'mesh demo ran for 10.0s: 1200 requests sent (all counted in the table below); 1190 answered below 500, 10 failed.');
});
