import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ManualClock } from '../../../src/core/clock.js';
import { prometheusRegistry } from '../../../src/metrics/prometheus.js';
import { ProxyMetrics } from '../../../src/metrics/recorder.js';
import { StatsFrameBuilder } from '../../../src/metrics/stats-frame.js';
import { Fate, NOOP_METRICS } from '../../../src/metrics/types.js';

function worker(clock: ManualClock, n: number, latencyMs: number, endpoints: string[]) {
  const m = new ProxyMetrics({ clock });
  const svc = m.service('orders');
  for (let i = 0; i < n; i++) {
    const ep = svc.endpoint(endpoints[i % endpoints.length]!, '127.0.0.1:9000');
    svc.requestStarted(); ep.requestStarted();
    ep.requestEnded(200, latencyMs); ep.bodyBytes(20, 10);
    svc.requestEnded(Fate.ok, 200, latencyMs);
  }
  m.tick();
  return m;
}

test('the admin worker adds its peers\' counters, windows and percentiles', async () => {
  const clock = new ManualClock();
  const one = worker(clock, 100, 1, ['a']);
  const two = worker(clock, 300, 100, ['a', 'b']);
  one.service('orders').underscoreHeadersDropped(1);
  two.service('orders').underscoreHeadersDropped(2);
  one.service('orders').faultDelayed();
  two.service('orders').faultDelayed(); two.service('orders').faultDelayed();
  one.setPeerState(JSON.parse(JSON.stringify(two.exportState(2))));
  const f = new StatsFrameBuilder(one).frame().services[0]!;
  assert.equal(f.requests, 400);
  assert.equal(f.rps, 400);
  assert.equal(f.fates.ok, 400);
  assert.ok(Math.abs(f.p50! - 100) < 2, `p50 ${f.p50}`); // 300 of 400 requests took 100 ms
  assert.ok(f.p99! >= 99);
  assert.deepEqual(f.endpoints.map((e) => [e.id, e.requests]), [['a', 250], ['b', 150]]);

  const text = await prometheusRegistry(one).metrics();
  assert.match(text, /^mesh_requests_total\{service="orders",endpoint="a",code_class="2xx"\} 250$/m);
  assert.match(text, /^mesh_request_fates_total\{service="orders",fate="ok"\} 400$/m);
  assert.match(text, /^mesh_request_duration_seconds_count\{service="orders",endpoint="b"\} 150$/m);
  assert.match(text, /^mesh_request_headers_dropped_total\{service="orders",reason="underscore"\} 3$/m);
  assert.match(text, /^mesh_fault_delays_injected_total\{service="orders"\} 3$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);

  clock.advance(3_001); // the peer went quiet (died): it no longer counts
  assert.equal(new StatsFrameBuilder(one).frame().services[0]!.fates.ok, 100);
  assert.equal(NOOP_METRICS.exportState(3), undefined);
});

test('an endpoint unreachable in any worker is unreachable in the merged /metrics and /stats; the marks add up', async () => {
  const clock = new ManualClock();
  const one = worker(clock, 10, 1, ['a', 'b']);
  const two = worker(clock, 10, 1, ['a', 'b']);
  const three = worker(clock, 10, 1, ['a', 'b']);
  const at = clock.now();
  // Worker 2 found "a" unreachable first, worker 3 later; worker 1 (the admin worker) still reaches it.
  two.service('orders').endpoint('a', '127.0.0.1:9000').unreachable(at - 5_000);
  three.service('orders').endpoint('a', '127.0.0.1:9000').unreachable(at - 1_000);
  // "b" was unreachable in worker 1 and came back: counted, no longer a state.
  one.service('orders').endpoint('b', '127.0.0.1:9000').unreachable(at - 9_000);
  one.service('orders').endpoint('b', '127.0.0.1:9000').reachable();
  one.setPeerState(JSON.parse(JSON.stringify(two.exportState(2))));
  one.setPeerState(JSON.parse(JSON.stringify(three.exportState(3))));

  const text = await prometheusRegistry(one).metrics();
  assert.match(text, /^# TYPE mesh_endpoint_unreachable gauge$/m);
  assert.match(text, /^mesh_endpoint_unreachable\{service="orders",endpoint="a"\} 1$/m);
  assert.match(text, /^mesh_endpoint_unreachable\{service="orders",endpoint="b"\} 0$/m);
  assert.match(text, /^mesh_unreachable_total\{service="orders",endpoint="a"\} 2$/m);
  assert.match(text, /^mesh_unreachable_total\{service="orders",endpoint="b"\} 1$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  const frame = new StatsFrameBuilder(one).frame().services[0]!;
  assert.deepEqual(frame.endpoints.map((e) => [e.id, e.unreachableSince]), [['a', at - 5_000], ['b', undefined]]);

  // Without peers the admin worker's own state is what shows.
  const alone = worker(clock, 1, 1, ['a']);
  alone.service('orders').endpoint('a', '127.0.0.1:9000').unreachable(at);
  assert.match(await prometheusRegistry(alone).metrics(), /^mesh_endpoint_unreachable\{service="orders",endpoint="a"\} 1$/m);
  assert.equal(new StatsFrameBuilder(alone).frame().services[0]!.endpoints[0]!.unreachableSince, at);
});
