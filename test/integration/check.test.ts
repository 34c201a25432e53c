// `mesh check` against a real registry, proxy, CA and certificates: all ✓ with exit 0; each broken part is a
// × line with a hint and exit 1; --json carries the same results. A --cert must be a mesh identity.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMesh, tempDir } from '../helpers/mesh.js';
import { startProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { mintWithOpenssl } from '../helpers/openssl-certs.js';

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

test('mesh check --cert fails a CA certificate, a two-URI certificate and one of another trust domain, each with its reason', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const ca = join(dir.path, 'ca');
  assert.equal((await runMesh(['certs', 'ca', 'init', '--dir', ca])).code, 0);
  assert.equal((await runMesh(['certs', 'gen', 'orders', '--ca-dir', ca, '--out', dir.path])).code, 0);
  // All signed by this CA with the openssl CLI: chain-valid, but not mesh identities.
  const signer = { cert: join(ca, 'ca.pem'), key: join(ca, 'ca-key.pem') };
  const caTrue = mintWithOpenssl(dir.path, 'ca-true', signer, { san: ['URI:spiffe://mesh.local/service/web'], ca: true, keyUsage: 'critical,digitalSignature,keyCertSign' }).cert;
  const twoUris = mintWithOpenssl(dir.path, 'two-uris', signer, { san: ['URI:spiffe://mesh.local/service/web', 'URI:spiffe://mesh.local/service/admin'] }).cert;
  const foreign = mintWithOpenssl(dir.path, 'foreign', signer, { san: ['URI:spiffe://other.test/service/web'] }).cert;
  const certArgs = [join(dir.path, 'orders.pem'), caTrue, twoUris, foreign, join(ca, 'ca.pem')].flatMap((f) => ['--cert', f]);
  const base = ['check', '--registry', 'http://127.0.0.1:1', '--proxy', 'http://127.0.0.1:1'];

  const r = await runMesh([...base, '--ca-dir', ca, ...certArgs]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^✓ .*orders\.pem \(spiffe:\/\/mesh\.local\/service\/orders\) is valid for/m);
  assert.match(r.stdout, /^× .*ca-true\.pem \(spiffe:\/\/mesh\.local\/service\/web\) is not a mesh identity: it is a CA certificate \(basicConstraints CA:TRUE\), not an end-entity certificate\n    hint: issue the service a certificate with `mesh certs gen <service> --ca-dir /m);
  assert.match(r.stdout, /^× .*two-uris\.pem \(CN=two-uris, O=mesh-test\) is not a mesh identity: it carries 2 URI SANs \(spiffe:\/\/mesh\.local\/service\/web, spiffe:\/\/mesh\.local\/service\/admin\); a mesh identity has exactly one$/m);
  assert.match(r.stdout, /^× .*foreign\.pem \(spiffe:\/\/other\.test\/service\/web\) is not a mesh identity: its SPIFFE ID spiffe:\/\/other\.test\/service\/web is in trust domain other\.test, not the mesh's mesh\.local$/m);
  assert.match(r.stdout, /^× .*ca\/ca\.pem \(spiffe:\/\/mesh\.local\) is not a mesh identity: it is a CA certificate/m);

  // Without --ca-dir the trust domain cannot be known; everything else is still checked.
  const bare = await runMesh([...base, ...certArgs, '--json']);
  const doc = JSON.parse(bare.stdout) as { checks: { check: string; ok: boolean }[] };
  const ok = Object.fromEntries(doc.checks.filter((c) => c.check.startsWith('cert ')).map((c) => [c.check.replace(/^cert .*\//, ''), c.ok]));
  assert.deepEqual(ok, { 'orders.pem': true, 'ca-true.pem': false, 'two-uris.pem': false, 'foreign.pem': true, 'ca.pem': false });
});
