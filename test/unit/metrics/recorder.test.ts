import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { ProxyMetrics } from '../../../src/metrics/recorder.js';
import { StatsFrameBuilder } from '../../../src/metrics/stats-frame.js';
import { Fate, NOOP_METRICS } from '../../../src/metrics/types.js';

function setup() {
  const metrics = new ProxyMetrics({ clock: new ManualClock(), windowSeconds: 10 });
  return { metrics, frames: new StatsFrameBuilder(metrics) };
}

test('a frame shows rps, success rate and percentiles over completed seconds', () => {
  const { metrics, frames } = setup();
  const svc = metrics.service('orders');
  const a = svc.endpoint('orders-1', '127.0.0.1:9001');
  const b = svc.endpoint('orders-2', '127.0.0.1:9002');
  for (let s = 0; s < 2; s++) {
    for (let i = 1; i <= 100; i++) {
      svc.requestStarted();
      const ep = i % 4 === 0 ? b : a;
      ep.requestStarted();
      const status = i % 10 === 0 ? 503 : 200;
      ep.requestEnded(status, i); ep.bodyBytes(20, 10);
      svc.requestEnded(status === 200 ? Fate.ok : Fate.failed, status, i);
    }
    metrics.tick();
  }
  const f = frames.frame();
  assert.equal(f.windowMs, 10_000);
  const orders = f.services[0]!;
  assert.equal(orders.service, 'orders');
  assert.equal(orders.requests, 200);
  assert.equal(orders.rps, 100);
  assert.equal(orders.successRate, 0.9);
  assert.ok(Math.abs(orders.p50! - 50) <= 1, `p50 ${orders.p50}`);
  assert.ok(Math.abs(orders.p99! - 99) <= 1, `p99 ${orders.p99}`);
  assert.equal(orders.inFlight, 0);
  assert.equal(orders.fates.ok, 180);
  assert.equal(orders.fates.failed, 20);
  assert.deepEqual(orders.endpoints.map((e) => [e.id, e.requests]), [['orders-1', 150], ['orders-2', 50]]);
  assert.equal(orders.endpoints[1]!.successRate, 0.8);
  assert.equal(a.rps(), 75);
});

test('requests older than the window drop out, and the current second is not counted yet', () => {
  const { metrics, frames } = setup();
  const ep = metrics.service('s').endpoint('e', '127.0.0.1:1');
  ep.requestStarted();
  ep.requestEnded(200, 5);
  assert.equal(frames.frame().services[0]!.endpoints[0]!.requests, 0);
  metrics.tick();
  assert.equal(frames.frame().services[0]!.endpoints[0]!.requests, 1);
  for (let i = 0; i < 10; i++) metrics.tick();
  const e = frames.frame().services[0]!.endpoints[0]!;
  assert.equal(e.requests, 0);
  assert.equal(e.p50, null);
  assert.equal(e.successRate, null);
});

test('in-flight counts follow started and ended; the state probe adds ewma and ejection', () => {
  const { metrics, frames } = setup();
  metrics.setStateProbe((service, id) => (service === 's' && id === 'e' ? { ewmaMs: 12.5, ejectedUntil: 123 } : undefined));
  const svc = metrics.service('s');
  const ep = svc.endpoint('e', '127.0.0.1:1');
  svc.requestStarted();
  ep.requestStarted();
  ep.requestStarted();
  ep.requestEnded(0, 1);
  const f = frames.frame().services[0]!;
  assert.equal(f.inFlight, 1);
  assert.equal(f.endpoints[0]!.inFlight, 1);
  assert.equal(f.endpoints[0]!.ewmaMs, 12.5);
  assert.equal(f.endpoints[0]!.ejectedUntil, 123);
  svc.removeEndpoint('e');
  assert.equal(frames.frame().services[0]!.endpoints.length, 0);
});

test('the no-op metrics accept every call and record nothing', () => {
  const svc = NOOP_METRICS.service('x');
  const ep = svc.endpoint('a', 'b');
  svc.requestStarted(); ep.requestStarted(); ep.requestEnded(200, 1); ep.bodyBytes(1, 1); svc.requestEnded(Fate.ok, 200, 1);
  svc.retry(); ep.ejection();
  assert.equal(ep.rps(), 0);
  assert.equal(NOOP_METRICS.enabled, false);
});
