import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Text } from 'ink';
import { render } from 'ink-testing-library';
import type { StatsHandlers } from '../../../src/metrics/admin-client.js';
import { useStats, type Connect } from '../../../src/ui/hooks/useStats.js';
import { eventually } from '../../helpers/mesh.js';

function Probe({ connect, staleMs }: { connect: Connect; staleMs: number }) {
  const view = useStats(['p'], { connect, tickMs: 10, staleMs, backoffMs: 20 });
  const p = view.proxies[0]!;
  return <Text>{`${p.state}|${p.lastError ?? ''}|${view.services.map((s) => s.service).join(',')}`}</Text>;
}

test('a stream that stops sending frames is treated as dead, its services vanish, and it is reconnected', { timeout: 10_000 }, async (t) => {
  const opened: StatsHandlers[] = [];
  let closed = 0;
  const connect: Connect = (_url, h) => {
    opened.push(h);
    queueMicrotask(() => {
      h.onOpen?.();
      if (opened.length === 1) h.onFrame({ time: 0, windowMs: 1000, services: [{ service: 'orders', rps: 1, successRate: 1, p50: 1, p95: 1, p99: 1, inFlight: 0, requests: 1, fates: { ok: 1, okAfterRetry: 0, failed: 0, retryBudgetExhausted: 0, timeout: 0, noHealthyEndpoint: 0, circuitOpen: 0, denied: 0, faultInjected: 0 }, endpoints: [] }] });
    });
    return { close() { closed++; } };
  };
  const app = render(<Probe connect={connect} staleMs={150} />);
  t.after(() => app.unmount());
  await eventually(() => app.lastFrame() === 'connected||orders', 3000, 5);
  await eventually(() => /^disconnected\|no frame for/.test(app.lastFrame() ?? ''), 3000, 5);
  assert.ok(closed >= 1, 'the stale stream was not closed');
  await eventually(() => opened.length >= 2, 3000, 5);
  app.unmount();
  const before = opened.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(opened.length, before, 'it kept reconnecting after unmount');
});

test('a transport that throws is a disconnection, not a crash', { timeout: 10_000 }, async (t) => {
  const connect: Connect = () => { throw new Error('boom'); };
  const app = render(<Probe connect={connect} staleMs={1000} />);
  t.after(() => app.unmount());
  await eventually(() => app.lastFrame() === 'disconnected|boom|', 3000, 5);
});
