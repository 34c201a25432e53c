// mesh top's key t: the selected service's slowest recent trace, drawn as `mesh trace` draws it (ink frame).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import type { StatsHandlers } from '../../../src/metrics/admin-client.js';
import { TopApp } from '../../../src/ui/components/Top.js';
import { emptyFates } from '../../../src/ui/aggregate.js';
import { renderWaterfall } from '../../../src/cli/render/trace.js';
import { eventually } from '../../helpers/mesh.js';

const T0 = 1_700_000_000_000;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const svc = (name: string, rps: number) => ({ service: name, rps, successRate: 1, p50: 1, p95: 2, p99: 3, inFlight: 0, requests: rps * 10, fates: { ...emptyFates(), ok: rps * 10 }, endpoints: [] });
const connect = (_url: string, h: StatsHandlers) => {
  queueMicrotask(() => { h.onOpen?.(); h.onFrame({ time: Date.now(), windowMs: 10_000, services: [svc('users', 300), svc('orders', 120)] }); });
  return { close() {} };
};
const waterfall = renderWaterfall(TRACE, [{
  traceId: TRACE, spanId: 'a1', parentSpanId: null, kind: 'client', name: 'GET', service: 'orders', method: 'GET', path: '/checkout', startEpochMs: T0, durationMs: 120,
  status: 200, error: false, fate: 'ok', cause: null, events: [], attributes: {}, tries: [{ endpoint: '10.0.0.7:8080', start: 0, connected: 2, headers: 110, end: 120, status: 200, failure: '' }],
}], { color: false, now: T0, barWidth: 20 });

const until = (get: () => string | undefined, re: RegExp) => eventually(() => { const f = get() ?? ''; return re.test(f) ? f : ''; }, 3000, 10);

test('t opens the selected service\'s slowest trace as a waterfall; Esc goes back to the services', { timeout: 10_000 }, async (t) => {
  const asked: string[] = [];
  const slowestTrace = async (service: string) => { asked.push(service); return waterfall; };
  const app = render(<TopApp proxies={['a']} connect={connect} tickMs={20} width={120} slowestTrace={slowestTrace} />);
  t.after(() => app.unmount());
  await until(app.lastFrame, /orders/);
  // Down until orders (the last row) is selected: a key sent before ink listens to stdin is lost, and the
  // selection stops at the last row, so pressing again is harmless.
  await eventually(() => { app.stdin.write('\u001B[B'); return /^› orders\s/m.test(app.lastFrame() ?? ''); }, 3000, 20);
  app.stdin.write('t');
  const out = await until(app.lastFrame, /try 1 10\.0\.0\.7:8080/);
  assert.deepEqual(asked, ['orders']);
  assert.match(out, /slowest recent trace of orders/);
  assert.match(out, new RegExp(`trace ${TRACE}  1 span across 1 service  120ms`));
  assert.match(out, /client orders GET \/checkout\s+200\s+120ms/);
  app.stdin.write('\u001B');
  const back = await until(app.lastFrame, /SERVICE/);
  assert.doesNotMatch(back, /slowest recent trace/);
});

test('t on a proxy without traces shows why instead of a waterfall', { timeout: 10_000 }, async (t) => {
  const slowestTrace = async () => { throw new Error('proxy admin at http://a: tracing is off on this proxy'); };
  const app = render(<TopApp proxies={['a']} connect={connect} tickMs={20} width={120} slowestTrace={slowestTrace} />);
  t.after(() => app.unmount());
  await until(app.lastFrame, /users/);
  await eventually(() => { app.stdin.write('t'); return /slowest recent trace/.test(app.lastFrame() ?? ''); }, 3000, 20);
  await until(app.lastFrame, /slowest recent trace of users[\s\S]*tracing is off on this proxy/);
});
