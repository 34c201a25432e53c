// Service definitions from files: `mesh registry start --services-dir` (load, reload on change and SIGHUP,
// refusal of invalid files, 409 for file-defined instances, removal) and `mesh register -f`.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MeshError } from '../../src/core/errors.js';
import { dig, DIG_SKIP } from '../helpers/dns.js';
import { runMesh, tempDir } from '../helpers/mesh.js';
import { recordWatch, startRegistry } from '../helpers/registry.js';

const WEB = `
# two instances of web, in the shape of a registration body
- service: web
  id: web-1
  address: 127.0.0.1:8080
  tags: {version: v2}
- service: web
  id: web-2
  address: 127.0.0.2:8080
  weight: 50
`;

test('--services-dir: loaded at start, marked with their file, 409 from the API, invalid files refused with one line', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-services-');
  t.after(dir.cleanup);
  writeFileSync(join(dir.path, 'web.yaml'), WEB);
  writeFileSync(join(dir.path, 'bad.json'), JSON.stringify({ service: 'db', address: '127.0.0.9:5432', weight: 5000 }));
  writeFileSync(join(dir.path, 'notes.txt'), 'not a definition file');
  writeFileSync(join(dir.path, 'zz-dup.yaml'), 'service: web\nid: web-1\naddress: 127.0.0.99:1\n');
  const reg = await startRegistry(t, { args: ['--services-dir', dir.path] });
  const refusals = reg.daemon.stderr().split('\n').filter((l) => l.includes('refused'));
  assert.deepEqual(refusals, [
    'mesh registry: services-dir: refused bad.json: weight: invalid weight "5000": use an integer from 1 to 1000',
    'mesh registry: services-dir: refused zz-dup.yaml: id: instance web/web-1 is already defined in web.yaml',
  ], reg.daemon.stderr());

  const { instances } = await reg.client.service('web');
  assert.deepEqual(instances.map((i) => [i.id, i.weight, i.definedIn]), [
    ['web-1', 100, join(dir.path, 'web.yaml')],
    ['web-2', 50, join(dir.path, 'web.yaml')],
  ]);
  await assert.rejects(reg.client.deregister('web', 'web-1'), (err: MeshError) => {
    assert.equal(err.code, 'MESH_ERR_DEFINED_IN_FILE');
    assert.equal(err.status, 409);
    assert.match(err.message, /defined in .*web\.yaml/);
    return true;
  });
  await assert.rejects(reg.client.register({ service: 'web', id: 'web-2', address: '127.0.0.3:1', weight: 1, priority: 0, tags: {} }), (err: MeshError) => err.status === 409);
  const cli = await runMesh(['deregister', 'web', 'web-1', '--registry', reg.url]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^mesh: cannot deregister web\/web-1: it is defined in .*web\.yaml \(edit or remove the file/);
  // Heartbeats still reach file-defined instances (TTL checks need them).
  assert.equal((await reg.client.heartbeat('web', 'web-1', { status: 'warning' })).instance.health, 'warning');
});

test('--services-dir follows the directory: edits, new files, removed files, SIGHUP, and removals while stopped', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('mesh-services-');
  t.after(dir.cleanup);
  const data = tempDir('mesh-services-data-');
  t.after(data.cleanup);
  const defs = join(dir.path, 'defs');
  mkdirSync(defs);
  writeFileSync(join(defs, 'web.yaml'), WEB);
  const reg = await startRegistry(t, { dataDir: data.path, args: ['--services-dir', defs] });
  const watch = await recordWatch(t, reg.client);

  writeFileSync(join(defs, 'web.yaml'), `${WEB}- {service: web, id: web-3, address: "127.0.0.3:8080"}\n`);
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'web-3');
  writeFileSync(join(defs, 'db.yml'), 'service: db\nid: db-1\naddress: 127.0.0.9:5432\ncheck: {ttlMs: 30000}\n');
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'db-1');

  // A broken edit keeps the file's previous instances; the other files are untouched.
  writeFileSync(join(defs, 'db.yml'), 'service: db\nid: db-1\naddress: nowhere\n');
  await reg.daemon.waitFor(/refused db\.yml: address: invalid address "nowhere".*previous instance stays/);
  assert.equal((await reg.client.service('db')).instances.length, 1);

  rmSync(join(defs, 'web.yaml'));
  await watch.next((e) => e.type === 'remove' && e.id === 'web-3');
  assert.deepEqual((await reg.client.services()).services.map((s) => s.service), ['db']);

  // SIGHUP reloads on demand.
  writeFileSync(join(defs, 'db.yml'), 'service: db\nid: db-1\naddress: 127.0.0.10:5432\n');
  reg.daemon.child.kill('SIGHUP');
  await reg.daemon.waitFor(/received SIGHUP, reloading the services dir/);
  await watch.next((e) => e.type === 'upsert' && e.instance.address === '127.0.0.10:5432');

  // A definition deleted while the daemon is down is removed when it starts again on the same data dir.
  assert.equal((await reg.stop()).code, 0);
  rmSync(join(defs, 'db.yml'));
  const again = await startRegistry(t, { dataDir: data.path, args: ['--services-dir', defs] });
  assert.deepEqual((await again.client.services()).services, []);
});

test('DNS answers instances from definition files', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-services-');
  t.after(dir.cleanup);
  writeFileSync(join(dir.path, 'web.yaml'), WEB);
  const reg = await startRegistry(t, { args: ['--services-dir', dir.path, '--dns', '127.0.0.1:0'] });
  const port = Number((await reg.daemon.waitFor(/DNS on 127\.0\.0\.1:(\d+)/))[1]);
  const r = await dig(port, ['v2.version.web.service.mesh']);
  assert.deepEqual(r.answers.map((a) => a.data), ['127.0.0.1']);
});

test('--services-dir that does not exist: one line, exit 1', { timeout: 60_000 }, async () => {
  const dir = tempDir('mesh-services-');
  try {
    const r = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dir.path, '--services-dir', join(dir.path, 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mesh: --services-dir .*missing: no such directory \(create the directory/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    dir.cleanup();
  }
});

test('mesh register -f registers every instance of a file through the API; a bad file registers nothing', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir('mesh-register-f-');
  t.after(dir.cleanup);
  const file = join(dir.path, 'web.yaml');
  writeFileSync(file, WEB);
  const ok = await runMesh(['register', '-f', file, '--registry', reg.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^registered web\/web-1 at 127\.0\.0\.1:8080 \(index \d+\)\nregistered web\/web-2 at 127\.0\.0\.2:8080 \(index \d+\)\n$/);
  const { instances } = await reg.client.service('web');
  assert.deepEqual(instances.map((i) => [i.id, i.definedIn]), [['web-1', undefined], ['web-2', undefined]], 'API registrations, not file-owned');

  const bad = join(dir.path, 'bad.json');
  writeFileSync(bad, JSON.stringify([{ service: 'db', address: '127.0.0.1:1' }, { service: 'db', address: '127.0.0.1:2', colour: 'red' }]));
  const refused = await runMesh(['register', '-f', bad, '--registry', reg.url]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'mesh: bad.json: [1].colour: unknown field "colour" (fix the file; nothing was registered)\n');
  await assert.rejects(reg.client.service('db'), (err: MeshError) => err.code === 'MESH_ERR_NOT_FOUND');

  const usage = await runMesh(['register', '-f', file, '--address', '127.0.0.1:1', '--registry', reg.url]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^mesh: -f takes everything from the file/);
  const missing = await runMesh(['register', '--registry', reg.url]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'service'/);
});
