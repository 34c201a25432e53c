// `mesh demo`: headless for a fixed time it prints a summary of real traffic through a real proxy, and leaves
// nothing behind — no process listening, no temporary directory. With the dashboard (in tmux), q stops it all.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DemoSummary } from '../../src/demo/summary.js';
import { eventually, MESH_BIN, runMesh, tempDir } from '../helpers/mesh.js';

function refused(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

test('mesh demo --no-ui runs for --duration, prints a summary and cleans up', { timeout: 45_000 }, async (t) => {
  const tmp = tempDir('mesh-demo-test-');
  t.after(tmp.cleanup);
  const r = await runMesh(['demo', '--no-ui', '--duration', '4s', '--rps', '30', '--json'], { env: { TMPDIR: tmp.path }, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as DemoSummary;
  assert.deepEqual(s.services.map((x) => x.service), ['orders', 'users', 'web']);
  assert.ok(s.load.sent >= 200, `sent ${s.load.sent}`);
  for (const svc of s.services) assert.ok(svc.requests > 50, `${svc.service}: ${svc.requests}`);
  // The load stops before the proxy is asked, so what was sent is what the proxy's table counts.
  assert.equal(s.services.reduce((n, x) => n + x.requests, 0), s.load.sent, 'the table adds up to the requests sent');
  const orders = s.services.find((x) => x.service === 'orders')!;
  const flaky = orders.endpoints.find((e) => e.id === 'orders-3')!;
  assert.ok(flaky.ejections >= 1, 'the failing instance was never ejected');
  const backup = s.services.find((x) => x.service === 'users')!.endpoints.find((e) => e.id === 'users-backup')!;
  assert.equal(backup.state, 'inactive-tier');
  assert.match(r.stderr, /stopped; nothing left running/);
  assert.ok(await refused(s.urls.admin), 'the proxy admin still listens');
  assert.ok(await refused(s.urls.proxy), 'the proxy still listens');
  assert.ok(await refused(s.urls.registry), 'the registry still listens');
  assert.deepEqual(readdirSync(tmp.path), [], 'the demo left files behind');

  const table = await runMesh(['demo', '--no-ui', '--duration', '2s'], { env: { TMPDIR: tmp.path }, timeoutMs: 30_000 });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SERVICE\s+REQUESTS\s+OK\s+OK AFTER RETRY/m);
  assert.match(table.stdout, /^mesh demo ran for [\d.]+s: \d+ requests sent \(all counted in the table below\)/);
  assert.match(table.stdout, /^orders\/orders-3\s/m);
});

test('mesh demo with the dashboard in tmux: services appear, q stops everything', { timeout: 45_000 }, async (t) => {
  const tmp = tempDir('mesh-demo-test-');
  t.after(tmp.cleanup);
  const sockets = tempDir('mesh-tmux-');
  const tmux = (...args: string[]) => spawnSync('tmux', ['-S', join(sockets.path, 'sock'), ...args], { encoding: 'utf8' });
  t.after(() => { tmux('kill-server'); sockets.cleanup(); });
  const started = tmux('new-session', '-d', '-s', 'demo', '-x', '110', '-y', '35', '-e', `TMPDIR=${tmp.path}`, '-e', 'NO_COLOR=1',
    `${process.execPath} ${MESH_BIN} demo --duration 60s`);
  assert.equal(started.status, 0, started.stderr);
  let screen = '';
  try {
    await eventually(() => {
      screen = tmux('capture-pane', '-p', '-t', 'demo').stdout;
      return /orders\s+\d/.test(screen) && /users\s+\d/.test(screen) && /web\s+\d/.test(screen);
    }, 20_000, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; screen:\n${screen}`);
  }
  assert.match(screen, /connected/);
  tmux('send-keys', '-t', 'demo', 'q');
  await eventually(() => tmux('has-session', '-t', 'demo').status !== 0, 15_000, 100);
  assert.deepEqual(readdirSync(tmp.path), [], 'the demo left files behind');
});
