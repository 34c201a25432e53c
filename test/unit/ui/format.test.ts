import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitColumns, fmtMs, fmtRate, fmtRps, fmtUntil, sparkline, truncate } from '../../../src/ui/format.js';
import { mergeFrames, emptyFates } from '../../../src/ui/aggregate.js';

test('number formats', () => {
  assert.deepEqual([fmtRps(0), fmtRps(12.34), fmtRps(512.6), fmtRps(25_000)], ['0.0', '12.3', '513', '25.0k']);
  assert.deepEqual([fmtRate(null), fmtRate(1), fmtRate(0.98765)], ['-', '100.00%', '98.77%']);
  assert.deepEqual([fmtMs(null), fmtMs(0.4213), fmtMs(12.34), fmtMs(250), fmtMs(1250)], ['-', '0.42ms', '12.3ms', '250ms', '1.25s']);
  assert.deepEqual([fmtUntil(undefined, 0), fmtUntil(500, 1000), fmtUntil(25_000, 0), fmtUntil(190_000, 0)], ['-', '-', '25s', '3m10s']);
});

test('sparklines scale to the largest value and pad on the left', () => {
  assert.equal(sparkline([0, 5, 10], 5), '  ▁▅█');
  assert.equal(sparkline([1, 2, 3, 4, 5, 6], 3), '▆▇█');
  assert.equal(sparkline([], 2), '  ');
});

test('truncation and column fitting', () => {
  assert.equal(truncate('abcdef', 4), 'abc…');
  assert.equal(truncate('abc', 4), 'abc');
  const col = (key: string, width: number, essential = false) => ({ key, title: key, width, essential, cell: () => '' });
  const cols = [col('name', 10, true), col('a', 5), col('b', 5, true), col('c', 5)];
  assert.deepEqual(fitColumns(cols, 100).map((c) => c.key), ['name', 'a', 'b', 'c']);
  assert.deepEqual(fitColumns(cols, 16).map((c) => c.key), ['name', 'b']);
  assert.deepEqual(fitColumns(cols, 6).map((c) => [c.key, c.width]), [['name', 6]]);
});

test('merging two proxies sums rates and weights success by requests', () => {
  const svc = (rps: number, requests: number, successRate: number) => ({
    service: 's', rps, requests, successRate, p50: 1, p95: 2, p99: requests === 10 ? 10 : 30, inFlight: 1, fates: { ...emptyFates(), ok: requests }, endpoints: [],
  });
  const [m] = mergeFrames([{ time: 0, windowMs: 1, services: [svc(1, 10, 1)] }, { time: 0, windowMs: 1, services: [svc(3, 30, 0.5)] }]);
  assert.equal(m!.rps, 4);
  assert.equal(m!.requests, 40);
  assert.equal(m!.successRate, 0.625);
  assert.equal(m!.p99, 25);
  assert.equal(m!.fates.ok, 40);
  assert.equal(m!.inFlight, 2);
});
