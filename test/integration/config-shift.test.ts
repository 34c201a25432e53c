// `mesh shift` with real processes: a canary whose instances answer 500 is rolled back to the starting split
// automatically; a healthy one reaches 100%; --abort restores the split the shift started from; Ctrl-C leaves
// the split where it is and says so.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMesh, startMesh } from '../helpers/mesh.js';
import { instanceOf, startProxy, viaProxy, type TestProxy } from '../helpers/proxy.js';
import { startTwoVersions } from '../helpers/canary.js';

/** Sends requests until `done` settles (at most 2,000), so the canary has traffic to be judged by. */
async function loadUntil(proxy: TestProxy, done: Promise<unknown>): Promise<void> {
  let over = false;
  void done.finally(() => { over = true; });
  for (let i = 0; i < 2_000 && !over; i++) {
    await viaProxy(proxy.port, 'web', '/');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function seen(proxy: TestProxy): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < 10; i++) out.add(instanceOf(await viaProxy(proxy.port, 'web', '/')));
  return out;
}

test('mesh shift: a failing canary is rolled back, a healthy one completes, --abort restores, Ctrl-C leaves the split', { timeout: 120_000 }, async (t) => {
  const { dir, reg, v2 } = await startTwoVersions(t, 'mesh-shift-');
  const proxy = await startProxy(t, reg.url);
  const start = join(dir, 'start.yaml');
  writeFileSync(start, 'services:\n  web:\n    retries: 0\n    routes:\n      - split: [ { tags: { version: v1 } } ]\n');
  assert.equal((await runMesh(['config', 'apply', '-f', start, '--registry', reg.url])).code, 0);
  const startEntry = JSON.parse((await runMesh(['config', 'get', 'web', '--json', '--registry', reg.url])).stdout).entry;
  const shiftArgs = ['shift', 'web', '--to', 'version=v2', '--steps', '50,100', '--every', '1s', '--max-error-rate', '1%', '--proxy', proxy.admin, '--registry', reg.url];

  // The canary answers 500: rolled back at the first step, with the reason.
  await v2.mode(500);
  const failing = startMesh(shiftArgs);
  t.after(async () => { await failing.stop('SIGKILL'); });
  await loadUntil(proxy, failing.exited);
  const failed = await failing.exited;
  assert.equal(failed.code, 1, failing.stderr());
  assert.match(failing.stderr(), /rolled web back to its starting split \(config version \d+\): the canary failed 100\.00% of \d+ requests at 50%, above the 1\.00% bound/);
  assert.deepEqual(JSON.parse((await runMesh(['config', 'get', 'web', '--json', '--registry', reg.url])).stdout).entry, startEntry);
  // The proxy follows the rollback.
  for (let i = 0; i < 50; i++) { if ((await seen(proxy)).size === 1) break; await new Promise((r) => setTimeout(r, 50)); }
  assert.deepEqual(await seen(proxy), new Set(['web-v1']));

  // Healthy: the shift completes, then --abort restores the starting split.
  await v2.mode(0);
  const healthy = startMesh(shiftArgs);
  t.after(async () => { await healthy.stop('SIGKILL'); });
  await loadUntil(proxy, healthy.exited);
  assert.equal((await healthy.exited).code, 0, healthy.stderr());
  assert.match(healthy.stdout(), /done: web sends 100% to version=v2/);
  assert.deepEqual(JSON.parse((await runMesh(['config', 'get', 'web', '--json', '--registry', reg.url])).stdout).entry.routes, [{ split: [{ tags: { version: 'v2' } }] }]);
  const abort = await runMesh(['shift', 'web', '--abort', '--registry', reg.url]);
  assert.equal(abort.code, 0, abort.stderr);
  assert.deepEqual(JSON.parse((await runMesh(['config', 'get', 'web', '--json', '--registry', reg.url])).stdout).entry, startEntry);

  // Ctrl-C during a step: the split stays at that step.
  const interrupted = startMesh([...shiftArgs.slice(0, 5), '25,100', ...shiftArgs.slice(6).map((a) => (a === '1s' ? '30s' : a))]);
  t.after(async () => { await interrupted.stop('SIGKILL'); });
  await interrupted.waitFor(/step 1\/2: 25% to version=v2/);
  interrupted.child.kill('SIGINT');
  assert.equal((await interrupted.exited).code, 130);
  assert.match(interrupted.stderr(), /shift interrupted at 25%: the split stays where it is; `mesh shift web --abort` restores the starting split/);
  const routes = JSON.parse((await runMesh(['config', 'get', 'web', '--json', '--registry', reg.url])).stdout).entry.routes;
  assert.deepEqual(routes, [{ split: [{ tags: { version: 'v1' }, weight: 75 }, { tags: { version: 'v2' }, weight: 25 }] }]);
});
