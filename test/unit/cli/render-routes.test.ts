// Golden-file tests for `mesh routes` renderers. `UPDATE_GOLDEN=1 node test/run.mjs unit render-routes`
// rewrites the files under test/unit/cli/golden/ after a deliberate change; review the diff before committing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoutesSnapshot } from '../../../src/core/admin-types.js';
import { ManualClock } from '../../../src/core/clock.js';
import { renderExplain, renderJson, renderRoutesTable } from '../../../src/cli/render/routes.js';
import { DEFAULT_CONFIG } from '../../../src/proxy/config.js';
import { explainRequest } from '../../../src/proxy/explain.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');
function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(file, actual); }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

const NOW = 1_700_000_000_000;
const snapshot: RoutesSnapshot = {
  index: 42, registry: { url: 'http://127.0.0.1:8500', connected: true },
  services: [{
    service: 'orders', policy: 'peak-ewma', activeTier: 0, inFlight: 3, maxConcurrent: 100,
    endpoints: [
      { id: 'orders-1', address: '127.0.0.1:9001', weight: 100, priority: 0, zone: 'a', tags: {}, health: 'passing', ejections: 0, consecutiveFailures: 0, inFlight: 2, ewmaMs: 3.25, rps: 120.5, eligible: true },
      { id: 'orders-2', address: '127.0.0.1:9002', weight: 100, priority: 0, tags: {}, health: 'passing', ejectedUntil: NOW + 25_000, ejections: 2, consecutiveFailures: 5, inFlight: 0, rps: 0, eligible: false, excludedBecause: 'ejected' },
      { id: 'orders-3', address: '127.0.0.1:9003', weight: 100, priority: 1, tags: {}, health: 'critical', ejections: 0, consecutiveFailures: 0, inFlight: 0, rps: 0, eligible: false, excludedBecause: 'critical' },
    ],
  }],
};

test('routes table', () => golden('routes.txt', renderRoutesTable(snapshot, { color: false, now: NOW })));
test('routes JSON is /routes as is', () => assert.deepEqual(JSON.parse(renderJson(snapshot)), snapshot));
test('routes table with colour marks health', () => assert.match(renderRoutesTable(snapshot, { color: true, now: NOW }), /\x1b\[31mcritical/));
test('explain table', () => {
  const r = explainRequest({ url: 'http://orders/api', method: 'GET', headers: [] }, snapshot, DEFAULT_CONFIG, new ManualClock(NOW));
  golden('routes-explain.txt', renderExplain(r, { color: false, now: NOW }));
});

const spilling: RoutesSnapshot = {
  index: 43, registry: { url: 'http://127.0.0.1:8500', connected: true },
  services: [{
    service: 'orders', policy: 'round-robin', activeTier: 0, inFlight: 0,
    tiers: [{ priority: 0, health: 70, load: 70 }, { priority: 1, health: 100, load: 30 }],
    endpoints: [
      { id: 'backup', address: '127.0.0.1:9003', weight: 100, priority: 1, tags: {}, health: 'passing', ejections: 0, consecutiveFailures: 0, inFlight: 0, rps: 3, eligible: true },
      { id: 'p1', address: '127.0.0.1:9001', weight: 100, priority: 0, tags: {}, health: 'passing', unreachableSince: NOW - 4_000, ejections: 0, consecutiveFailures: 1, inFlight: 0, rps: 0, eligible: false, excludedBecause: 'unreachable' },
      { id: 'p2', address: '127.0.0.1:9002', weight: 100, priority: 0, tags: {}, health: 'passing', ejections: 0, consecutiveFailures: 0, inFlight: 0, rps: 7, eligible: true },
    ],
  }],
};

test('routes and explain while a degraded tier spills: each tier\'s share, unreachable endpoints and why', () => {
  golden('routes-spill.txt', renderRoutesTable(spilling, { color: false, now: NOW }));
  const r = explainRequest({ url: 'http://orders/', method: 'GET', headers: [] }, spilling, DEFAULT_CONFIG, new ManualClock(NOW));
  golden('routes-explain-spill.txt', renderExplain(r, { color: false, now: NOW }));
});
