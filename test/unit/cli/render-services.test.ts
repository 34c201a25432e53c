// Golden-file tests for `mesh services` renderers. `UPDATE_GOLDEN=1 node test/run.mjs unit render-services`
// rewrites the files under test/unit/cli/golden/ after a deliberate change; review the diff before committing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Instance } from '../../../src/core/types.js';
import { ago, renderJson, renderServicesTable, renderServiceTable } from '../../../src/cli/render/services.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');
const NOW = 1_700_000_100_000;

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

const base = { weight: 100, priority: 0, tags: {}, registeredAt: NOW - 60_000, createIndex: 1, modifyIndex: 1 };
const instances: Instance[] = [
  { ...base, service: 'orders', id: 'orders-1', address: '127.0.0.1:8081', zone: 'eu-1a', tags: { version: 'v1' }, health: 'passing', lastHeartbeat: NOW - 3_000, check: { ttlMs: 10_000, deregisterAfterMs: 60_000 } },
  { ...base, service: 'orders', id: 'orders-2', address: '[::1]:8082', weight: 50, priority: 1, tags: { version: 'v2' }, health: 'critical', healthOutput: 'TTL expired', lastHeartbeat: NOW - 125_000, criticalSince: NOW - 5_000 },
  { ...base, service: 'orders', id: 'orders-3', address: 'orders-3.internal:8083', health: 'warning', healthOutput: 'HTTP 429' },
];
const servicesView = {
  index: 7,
  services: [
    { service: 'orders', instances: 3, passing: 1, warning: 1, critical: 1, tags: ['version=v1', 'version=v2'] },
    { service: 'payments', instances: 1, passing: 1, warning: 0, critical: 0, tags: [] },
  ],
};

test('services table', () => golden('services.txt', renderServicesTable(servicesView, { color: false })));
test('services JSON is the same value', () => {
  golden('services.json', renderJson(servicesView));
  assert.deepEqual(JSON.parse(renderJson(servicesView)), servicesView);
});
test('one service\'s instances table', () => golden('service-orders.txt', renderServiceTable({ index: 7, service: 'orders', instances }, { color: false, now: NOW })));
test('one service\'s instances JSON', () => golden('service-orders.json', renderJson({ index: 7, service: 'orders', instances })));
test('empty registry', () => assert.equal(renderServicesTable({ index: 0, services: [] }, { color: false }), 'no services registered\n'));
test('colour only when asked', () => {
  const coloured = renderServiceTable({ index: 7, service: 'orders', instances }, { color: true, now: NOW });
  assert.match(coloured, /\x1b\[32mpassing\x1b\[39m/);
  assert.match(coloured, /\x1b\[31mcritical\x1b\[39m/);
  assert.doesNotMatch(renderServiceTable({ index: 7, service: 'orders', instances }, { color: false, now: NOW }), /\x1b/);
});
test('ago', () => {
  assert.deepEqual([500, 3_000, 125_000, 7_200_000, 2 * 86_400_000].map(ago), ['just now', '3s ago', '2m ago', '2h ago', '2d ago']);
});
