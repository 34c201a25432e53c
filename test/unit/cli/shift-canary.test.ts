// `mesh shift`'s pure parts: the entry of each step, and the canary's failure share from /metrics readings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canaryDelta, entryAtStep, requestCounts } from '../../../src/cli/shift/canary.js';

test('each step keeps the starting settings and splits from → to', () => {
  assert.deepEqual(entryAtStep({ retries: 1, routes: [] }, { version: 'v1' }, { version: 'v2' }, 25),
    { retries: 1, routes: [{ split: [{ tags: { version: 'v1' }, weight: 75 }, { tags: { version: 'v2' }, weight: 25 }] }] });
  assert.deepEqual(entryAtStep(undefined, { version: 'v1' }, { version: 'v2' }, 100), { routes: [{ split: [{ tags: { version: 'v2' } }] }] });
});

test('the canary failure share counts 5xx and no-answer tries of its endpoints between two readings', () => {
  const before = requestCounts([
    'mesh_requests_total{service="web",endpoint="v2-a",code_class="2xx"} 10',
    'mesh_requests_total{service="web",endpoint="v1-a",code_class="5xx"} 7',
  ].join('\n'), 'web');
  const after = requestCounts([
    'mesh_requests_total{service="web",endpoint="v2-a",code_class="2xx"} 16',
    'mesh_requests_total{service="web",endpoint="v2-a",code_class="5xx"} 3',
    'mesh_requests_total{service="web",endpoint="v2-a",code_class="error"} 1',
    'mesh_requests_total{service="web",endpoint="v1-a",code_class="5xx"} 9',
    'mesh_requests_total{service="api",endpoint="v2-a",code_class="5xx"} 50',
  ].join('\n'), 'web');
  assert.deepEqual(canaryDelta(before, after, new Set(['v2-a'])), { total: 10, failed: 4 });
});
