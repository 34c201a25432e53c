// `mesh top` end to end in a real terminal (tmux): it shows the services and numbers of a real proxy under a
// bounded load, Enter opens a service's endpoints, and q quits and gives the terminal back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { eventually, MESH_BIN } from '../helpers/mesh.js';
import { getJson, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { privateTmux } from '../helpers/tmux.js';

const { dir: SOCKET_DIR, tmux, seen } = privateTmux('mesh-tmux-');

test('mesh top in tmux shows live services from a real proxy; Enter, Esc and q work', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'orders-a');
  const b = await startBackend(t, 'orders-b');
  const c = await startBackend(t, 'users-a');
  await register(reg.url, 'orders', a);
  await register(reg.url, 'orders', b);
  await register(reg.url, 'users', c);
  const proxy = await startProxy(t, reg.url);
  await eventually(async () => (await getJson<RoutesSnapshot>(`${proxy.admin}/routes`)).services.length === 2, 10_000);

  // Bounded load in the background: at most 6,000 requests or 20 s, whichever comes first.
  let stop = false;
  const deadline = Date.now() + 20_000;
  let sent = 0;
  let failures = 0;
  const loader = Promise.all(Array.from({ length: 4 }, async (_, i) => {
    while (!stop && sent < 6_000 && Date.now() < deadline) {
      sent++;
      await viaProxy(proxy.port, i % 2 === 0 ? 'orders' : 'users', '/x').catch(() => { if (!stop) failures++; });
      await new Promise((r) => setTimeout(r, 2));
    }
  }));
  t.after(() => { stop = true; tmux('kill-server'); SOCKET_DIR.cleanup(); });

  const started = tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '40', '-e', 'NO_COLOR=1', `${process.execPath} ${MESH_BIN} top --proxy ${proxy.admin}`);
  assert.equal(started.status, 0, started.stderr);
  const s1 = await seen((s) => /orders\s+\d+(\.\d)?\s+100\.00%\s+\d+\.\d+ms/.test(s) && /users\s+\d/.test(s), 15_000);
  assert.match(s1, /● http:\/\/127\.0\.0\.1:\d+ connected/);
  assert.match(s1, /SERVICE\s+RPS▼\s+SUCCESS\s+P50\s+P95\s+P99/);

  // Sort by name puts orders on the first row; Enter opens it.
  tmux('send-keys', '-t', 'top', 'Left'); // rps → service
  await seen((s) => /SERVICE▼/.test(s), 5_000);
  tmux('send-keys', '-t', 'top', 'Enter');
  const s2 = await seen((s) => /ENDPOINT/.test(s) && /orders-a\s+127\.0\.0\.1:\d+\s+\d/.test(s), 5_000);
  assert.match(s2, /orders-b/);
  assert.match(s2, /fates\s+ok \d+/);
  tmux('send-keys', '-t', 'top', 'Escape');
  await seen((s) => /SERVICE▼/.test(s), 5_000);

  tmux('send-keys', '-t', 'top', 'q');
  await eventually(() => tmux('has-session', '-t', 'top').status !== 0, 5_000, 100);
  stop = true;
  await loader;
  assert.equal(failures, 0);
});
