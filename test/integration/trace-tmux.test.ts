// `mesh top`'s key t in a real terminal (tmux): a proxy with tracing on (no collector), a slow request among
// quick ones, and the dashboard draws the service's slowest trace as a waterfall with its try and phases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, MESH_BIN } from '../helpers/mesh.js';
import { register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { privateTmux } from '../helpers/tmux.js';

const { dir: SOCKET_DIR, tmux, seen } = privateTmux('mesh-tmux-trace-');

test('mesh top in tmux: t draws the selected service\'s slowest trace from the proxy\'s span ring', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'orders-a');
  await register(reg.url, 'orders', b);
  const proxy = await startProxy(t, reg.url, ['--trace-sample', '1']);
  t.after(() => { tmux('kill-server'); SOCKET_DIR.cleanup(); });
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/quick', { via: 'host' })).status === 200, 10_000);
  for (let i = 0; i < 20; i++) assert.equal((await viaProxy(proxy.port, 'orders', '/quick', { via: 'host' })).status, 200);
  assert.equal((await viaProxy(proxy.port, 'orders', '/slow?ms=300', { via: 'host' })).status, 200);

  const started = tmux('new-session', '-d', '-s', 'top', '-x', '160', '-y', '40', '-e', 'NO_COLOR=1', `${process.execPath} ${MESH_BIN} top --proxy ${proxy.admin}`);
  assert.equal(started.status, 0, started.stderr);
  await seen((s) => /orders\s+\d/.test(s), 15_000);
  tmux('send-keys', '-t', 'top', 't');
  const s = await seen((x) => /try 1 127\.0\.0\.1:\d+/.test(x), 10_000);
  assert.match(s, /slowest recent trace of orders/);
  assert.match(s, /trace [0-9a-f]{32}\s+1 span across 1 service/);
  assert.match(s, /client orders GET \/slow\?ms=300\s+200\s+(\d{3}ms|\d\.\d\ds)/, 'the slowest is the 300 ms request');
  assert.match(s, /conn \S+ ttfb (\d{3}ms|\d\.\d\ds) body/, 'its time went to the first byte');
  tmux('send-keys', '-t', 'top', 'Escape');
  await seen((x) => /SERVICE/.test(x) && !/slowest recent trace/.test(x), 5_000);
  tmux('send-keys', '-t', 'top', 'q');
  await eventually(() => tmux('has-session', '-t', 'top').status !== 0, 5_000, 100);
});
