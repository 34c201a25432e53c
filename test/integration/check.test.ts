// `mesh check` against a real registry, proxy, CA and certificates: all ✓ with exit 0; each broken part is a
// × line with a hint and exit 1; --json carries the same results.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMesh, tempDir } from '../helpers/mesh.js';
import { startProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';

test('mesh check passes on a healthy mesh and names what is broken', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.url);
  const ca = join(dir.path, 'ca');
  const other = join(dir.path, 'other-ca');
  for (const d of [ca, other]) {
    const r = await runMesh(['certs', 'ca', 'init', '--dir', d]);
    assert.equal(r.code, 0, r.stderr);
  }
  const gen = await runMesh(['certs', 'gen', 'orders', '--ca-dir', ca, '--out', dir.path]);
  assert.equal(gen.code, 0, gen.stderr);
  const foreign = await runMesh(['certs', 'gen', 'users', '--ca-dir', other, '--out', dir.path]);
  assert.equal(foreign.code, 0, foreign.stderr);
  const config = join(dir.path, 'mesh.yaml');
  writeFileSync(config, 'services:\n  orders:\n    policy: least-request\n');
  const policy = join(dir.path, 'policy.yaml');
  writeFileSync(policy, 'version: 1\ndefaultAction: deny\nservices:\n  orders:\n    allow:\n      - from: web\n');
  const base = ['check', '--registry', reg.url, '--proxy', proxy.admin, '--ca-dir', ca];

  const good = await runMesh([...base, '--cert', join(dir.path, 'orders.pem'), '--config', config, '--policy', policy]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const lines = good.stdout.trim().split('\n');
  assert.equal(lines.filter((l) => l.startsWith('✓')).length, 6, good.stdout);
  assert.match(good.stdout, /✓ registry at .* is reachable/);
  assert.match(good.stdout, /✓ proxy at .* is ready/);
  assert.match(good.stdout, /✓ CA in .* is valid for/);
  assert.match(good.stdout, /✓ .*orders\.pem \(spiffe:\/\/[^)]+\/service\/orders\) is valid for/);
  assert.match(good.stdout, /all 6 checks passed/);

  writeFileSync(config, 'services:\n  orders:\n    policy: fastest\n');
  const bad = await runMesh([...base, '--cert', join(dir.path, 'users.pem'), '--config', config, '--proxy', 'http://127.0.0.1:1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /× proxy admin at http:\/\/127\.0\.0\.1:1 is unreachable.*\n    hint: /);
  assert.match(bad.stdout, /× .*users\.pem .* was not issued by the CA.*\n    hint: reissue it/);
  assert.match(bad.stdout, /× .*policy.*\n    hint: fix the file/);
  assert.match(bad.stdout, /3 of 5 checks failed/);

  const json = await runMesh([...base, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { ok: boolean; checks: { check: string; ok: boolean }[] };
  assert.equal(doc.ok, true);
  assert.deepEqual(doc.checks.map((c) => c.check), ['registry', 'proxy', 'ca']);
});
