import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import type { ServiceStatsFrame, StatsFrame } from '../../../src/core/admin-types.js';
import type { StatsHandlers } from '../../../src/metrics/admin-client.js';
import { TopApp } from '../../../src/ui/components/Top.js';
import { emptyFates } from '../../../src/ui/aggregate.js';
import { eventually } from '../../helpers/mesh.js';

const NOW = Date.now();
function service(name: string, rps: number, over: Partial<ServiceStatsFrame> = {}): ServiceStatsFrame {
  return {
    service: name, rps, successRate: 0.995, p50: 1.5, p95: 7.25, p99: 12.5, inFlight: 2, requests: rps * 10,
    fates: { ...emptyFates(), ok: rps * 10, okAfterRetry: 3, timeout: 1 },
    endpoints: [
      { id: `${name}-1`, address: '127.0.0.1:9001', rps: rps / 2, successRate: 1, p50: 1, p95: 2, p99: 3, inFlight: 1, requests: rps * 5, ewmaMs: 4.5 },
      { id: `${name}-2`, address: '127.0.0.1:9002', rps: rps / 2, successRate: 0.5, p50: 1, p95: 2, p99: 30, inFlight: 0, requests: rps * 5, ejectedUntil: NOW + 60_000 },
    ],
    ...over,
  };
}
const frame = (services: ServiceStatsFrame[]): StatsFrame => ({ time: NOW, windowMs: 10_000, services });

/** A fake transport: per URL a function that drives the handlers. */
function fakeConnect(behaviour: Record<string, (h: StatsHandlers) => void>) {
  const attempts: Record<string, number> = {};
  const connect = (url: string, h: StatsHandlers) => {
    attempts[url] = (attempts[url] ?? 0) + 1;
    queueMicrotask(() => behaviour[url]?.(h));
    return { close() {} };
  };
  return { connect, attempts };
}

const FRAME = frame([service('orders', 120), service('payments', 40, { successRate: 0.9, p99: 250 }), service('users', 300)]);
const ARROW_RIGHT = '\u001B[C';
const ARROW_DOWN = '\u001B[B';
const ENTER = '\r';
const ESC = '\u001B';

async function until(get: () => string | undefined, re: RegExp): Promise<string> {
  return eventually(() => { const f = get() ?? ''; return re.test(f) ? f : ''; }, 3000, 10);
}

test('after a frame the table shows every service with its numbers, busiest first', { timeout: 10_000 }, async (t) => {
  const { connect } = fakeConnect({ a: (h) => { h.onOpen?.(); h.onFrame(FRAME); } });
  const app = render(<TopApp proxies={['a']} connect={connect} tickMs={20} width={100} />);
  t.after(() => app.unmount());
  const out = await until(app.lastFrame, /orders/);
  assert.match(out, /● a connected/);
  assert.match(out, /orders\s+120\s+99\.50%\s+1\.50ms\s+7\.25ms\s+12\.5ms\s+2/);
  assert.match(out, /payments\s+40\.0\s+90\.00%.*250ms/);
  const order = ['users', 'orders', 'payments'].map((s) => out.indexOf(s));
  assert.deepEqual([...order].sort((x, y) => x - y), order, out);
  assert.match(out, /^› users\s/m); // the first row is selected
  assert.match(out, /fates\s+ok 3000\s+ok after retry 3\s+timeout 1/); // the selected (first) service's fates
});

test('s and arrows change the sort column; selection and Enter open the endpoints; Esc goes back', { timeout: 10_000 }, async (t) => {
  const { connect } = fakeConnect({ a: (h) => { h.onOpen?.(); h.onFrame(FRAME); } });
  const app = render(<TopApp proxies={['a']} connect={connect} tickMs={20} width={100} />);
  t.after(() => app.unmount());
  await until(app.lastFrame, /orders/);
  app.stdin.write(ARROW_RIGHT); // rps → success: lowest success first
  let out = await until(app.lastFrame, /SUCCESS▼/);
  assert.ok(out.indexOf('payments') < out.indexOf('orders'), out);
  app.stdin.write('s'); // → p50
  app.stdin.write('s'); // → p95
  app.stdin.write('s'); // → p99: payments (250ms) first
  out = await until(app.lastFrame, /P99▼/);
  assert.ok(out.indexOf('payments') < out.indexOf('users'), out);
  app.stdin.write(ARROW_DOWN); // select the second row under p99 sort: orders or users (both 12.5ms → by name: orders)
  out = await until(app.lastFrame, /^› orders\s/m);
  assert.match(out, /fates\s+ok 1200/);
  app.stdin.write(ENTER);
  out = await until(app.lastFrame, /ENDPOINT/);
  assert.match(out, /orders-1\s+127\.0\.0\.1:9001\s+60\.0\s+100\.00%/);
  assert.match(out, /orders-2.*50\.00%.*ejected (1m00s|59s)/);
  assert.match(out, /4\.50ms/); // EWMA
  app.stdin.write(ESC);
  out = await until(app.lastFrame, /SERVICE/);
  assert.doesNotMatch(out, /ENDPOINT/);
});

test('a proxy that goes away is shown disconnected and is reconnected; the others keep showing', { timeout: 10_000 }, async (t) => {
  const { connect, attempts } = fakeConnect({
    good: (h) => { h.onOpen?.(); h.onFrame(frame([service('orders', 10)])); },
    bad: (h) => h.onClose(new Error('connect ECONNREFUSED 127.0.0.1:1')),
  });
  const app = render(<TopApp proxies={['good', 'bad']} connect={connect} tickMs={20} width={100} />);
  t.after(() => app.unmount());
  const out = await until(app.lastFrame, /○ bad disconnected/);
  assert.match(out, /ECONNREFUSED.*reconnecting/);
  assert.match(out, /● good connected/);
  assert.match(out, /orders\s+10\.0/);
  await eventually(() => (attempts.bad ?? 0) >= 2, 3000, 10); // the first backoff is 500 ms
});

test('frames from several proxies are merged per service', { timeout: 10_000 }, async (t) => {
  const { connect } = fakeConnect({
    a: (h) => { h.onOpen?.(); h.onFrame(frame([service('orders', 10)])); },
    b: (h) => { h.onOpen?.(); h.onFrame(frame([service('orders', 30)])); },
  });
  const app = render(<TopApp proxies={['a', 'b']} connect={connect} tickMs={20} width={100} />);
  t.after(() => app.unmount());
  await until(app.lastFrame, /orders\s+40\.0/);
});

test('a narrow terminal drops columns and cuts names instead of wrapping', { timeout: 10_000 }, async (t) => {
  const long = frame([service('a-very-long-service-name-indeed', 5)]);
  const { connect } = fakeConnect({ 'http://127.0.0.1:15000': (h) => { h.onOpen?.(); h.onFrame(long); } });
  const app = render(<TopApp proxies={['http://127.0.0.1:15000']} connect={connect} tickMs={20} width={40} />);
  t.after(() => app.unmount());
  const out = await until(app.lastFrame, /a-very/);
  for (const line of out.split('\n')) assert.ok(line.length <= 40, `line too long (${line.length}): ${line}`);
  assert.match(out, /a-very-long-servi…\s+5\.0\s+99\.50%/);
  assert.match(out, /SERVICE\s+RPS▼\s+SUCCESS/);
  assert.doesNotMatch(out, /TREND/);
});
