// Golden files for `mesh registry status`: every line has a human label, never a store's raw field name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistryStatusResponse } from '../../../src/registry/client.js';
import { renderRegistryStatus } from '../../../src/cli/render/registry-status.js';
import { golden } from '../../helpers/golden.js';

const common = { version: '0.1.0', uptimeMs: 3_725_000, listen: '127.0.0.1:8500', services: 2, instances: 3 };

const embedded: RegistryStatusResponse = {
  ...common, kind: 'embedded', index: 42, readOnly: false,
  details: { dataDir: '/var/lib/mesh/registry', journalBytes: 20_480, journalRecords: 17, snapshotIndex: 25, replayMs: 3.4, skippedBytes: 0, instances: 3 },
};

const etcdReadOnly: RegistryStatusResponse = {
  ...common, kind: 'etcd', index: 1_234, readOnly: true, reason: 'etcd at http://127.0.0.1:2379 is unreachable (14 UNAVAILABLE)',
  details: {
    endpoints: 'http://127.0.0.1:2379', prefix: '/mesh/v1/', revision: 1_234, connected: false, instances: 3,
    member: 'm-3f2a', members: 2, unreachableForMs: 12_400,
  },
};

/** The stores' camelCase field names, which must not reach the table. */
const RAW_KEY = /^[a-z]+[A-Z]\w*:/m;

test('registry status on the embedded store: labelled lines, sizes and durations formatted', () => {
  const text = renderRegistryStatus(embedded, 'http://127.0.0.1:8500');
  assert.doesNotMatch(text, RAW_KEY);
  golden('registry-status-embedded.txt', text);
});

test('registry status on etcd while etcd is away: "etcd unreachable for", not unreachableForMs', () => {
  const text = renderRegistryStatus(etcdReadOnly, 'http://127.0.0.1:8500');
  assert.doesNotMatch(text, RAW_KEY);
  assert.match(text, /^etcd unreachable for: +12\.4s$/m);
  assert.match(text, /^connected to etcd: +no$/m);
  golden('registry-status-etcd.txt', text);
});

test('a detail a store adds later still reads as words with its unit formatted', () => {
  const text = renderRegistryStatus({ ...embedded, details: { compactionLagMs: 90_000, lastRepairBytes: 2_048 } }, 'http://x');
  assert.match(text, /^compaction lag: +1m30s$/m);
  assert.match(text, /^last repair: +2\.0 KiB$/m);
});
