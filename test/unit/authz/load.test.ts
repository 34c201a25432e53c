// The policy file a sidecar watches: reloaded on change, an invalid edit refused with the old policy kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicyFile, PolicyHolder } from '../../../src/authz/load.js';
import { evaluate } from '../../../src/authz/policy.js';
import { eventually, tempDir } from '../../helpers/mesh.js';

test('a missing policy file is one clear error', () => {
  assert.throws(() => loadPolicyFile('/nonexistent/policy.yaml'), /cannot read policy "\/nonexistent\/policy.yaml": no such file/);
});

test('hot reload: a valid edit takes effect, an invalid one is refused and the old policy stays', { timeout: 20_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const file = join(tmp.path, 'policy.yaml');
  writeFileSync(file, 'services:\n  orders:\n    allow:\n      - from: web\n');
  const logs: string[] = [];
  const holder = new PolicyHolder(file, { debounceMs: 30, pollMs: 100, log: (l) => logs.push(l) });
  t.after(() => holder.close());
  const ask = (from: string) => evaluate(holder.policy, { from, to: 'orders', method: 'GET', path: '/' }).allowed;
  assert.equal(ask('web'), true);
  assert.equal(ask('billing'), false);

  // editors replace files by rename; the watcher follows the directory
  writeFileSync(`${file}.new`, 'services:\n  orders:\n    allow:\n      - from: billing\n');
  renameSync(`${file}.new`, file);
  await eventually(() => ask('billing'), 5_000);
  assert.equal(ask('web'), false);
  assert.ok(logs.some((l) => /policy reloaded from/.test(l)));

  writeFileSync(file, 'services:\n  orders:\n    allow:\n      - from: web\n        methods: [FETCH]\n');
  await eventually(() => logs.some((l) => /refused policy change .*"FETCH" is not an HTTP method.*previous policy stays in force/.test(l)), 5_000);
  assert.equal(ask('billing'), true, 'the last good policy is still enforced');
});
