// The runtime keeps per-endpoint stats in step with discovery: an endpoint is listed in /stats (and so in
// `mesh top`'s endpoint view) from the moment the registry reports it, not from its first request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom } from '../../../src/core/clock.js';
import type { Instance } from '../../../src/core/types.js';
import { ProxyMetrics } from '../../../src/metrics/recorder.js';
import { StatsFrameBuilder } from '../../../src/metrics/stats-frame.js';
import { DEFAULT_CONFIG } from '../../../src/config/proxy-config.js';
import { UpstreamPools } from '../../../src/proxy/upstream/pools.js';
import { ServiceRuntimes } from '../../../src/proxy/attempt/service-runtime.js';

function inst(id: string, port: number, priority = 0): Instance {
  return { service: 'orders', id, address: `127.0.0.1:${port}`, weight: 100, priority, tags: {}, health: 'passing', registeredAt: 0, createIndex: 1, modifyIndex: 1 };
}

test('/stats lists every endpoint the balancer knows, idle backups included, and drops removed ones', () => {
  const clock = new ManualClock();
  const metrics = new ProxyMetrics({ clock });
  const runtimes = new ServiceRuntimes({ clock, random: seededRandom(1), metrics, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG, log: () => undefined });
  const frames = new StatsFrameBuilder(metrics);
  const endpointsOf = () => frames.frame().services.find((s) => s.service === 'orders')?.endpoints ?? [];

  runtimes.apply({ type: 'reset', index: 1, instances: [inst('p1', 9001), inst('backup', 9002, 1)] });
  const rt = runtimes.get('orders')!;
  const picked = rt.pick(undefined, undefined, undefined);
  assert.ok(typeof picked !== 'string' && picked.key === 'orders/p1');
  rt.tryStarted(picked);
  rt.tryEnded(picked, true, 2, 200);
  metrics.tick();

  const eps = endpointsOf();
  assert.deepEqual(eps.map((e) => e.id), ['backup', 'p1']);
  const idle = eps.find((e) => e.id === 'backup')!;
  assert.deepEqual([idle.address, idle.requests, idle.rps, idle.successRate, idle.p50, idle.p95, idle.p99, idle.inFlight], ['127.0.0.1:9002', 0, 0, null, null, null, null, 0]);
  assert.equal(eps.find((e) => e.id === 'p1')!.requests, 1);

  // An upsert adds one; a new address replaces its stats; a remove or a reset that leaves it out drops it.
  runtimes.apply({ type: 'upsert', index: 2, instance: inst('p2', 9003) });
  assert.deepEqual(endpointsOf().map((e) => e.id), ['backup', 'p1', 'p2']);
  runtimes.apply({ type: 'upsert', index: 3, instance: inst('p2', 9004) });
  assert.equal(endpointsOf().find((e) => e.id === 'p2')!.address, '127.0.0.1:9004');
  runtimes.apply({ type: 'remove', index: 4, service: 'orders', id: 'p2', reason: 'deregistered' });
  assert.deepEqual(endpointsOf().map((e) => e.id), ['backup', 'p1']);
  runtimes.apply({ type: 'reset', index: 5, instances: [inst('p1', 9001)] });
  assert.deepEqual(endpointsOf().map((e) => e.id), ['p1']);
  metrics.close();
});

test('retries after a connect failure are not charged to the retry budget; others are, until it is spent', () => {
  const clock = new ManualClock();
  const metrics = new ProxyMetrics({ clock });
  const runtimes = new ServiceRuntimes({ clock, random: seededRandom(1), metrics, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG, log: () => undefined });
  runtimes.apply({ type: 'reset', index: 1, instances: [inst('p1', 9001), inst('p2', 9002)] });
  const rt = runtimes.get('orders')!;
  // The default budget: 20% of requests over 10 s plus 10 per second, i.e. 100 retries with no requests yet.
  for (let i = 0; i < 100; i++) assert.ok(rt.takeRetry('reset'), `reset retry ${i}`);
  assert.equal(rt.takeRetry('reset'), false, 'the budget is spent');
  assert.equal(rt.takeRetry('status-503'), false);
  for (let i = 0; i < 500; i++) assert.ok(rt.takeRetry('connect'), `connect retry ${i}`);
  assert.equal(rt.budgetRefusals, 2);
});
