// The registry CLI through the real bin/mesh against a real daemon: register, list, deregister, --json,
// bad input (one stderr line, exit 2, nothing sent), unreachable registry, and daemon start failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMesh, startMesh, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';

test('register, list, deregister; --json parses; SIGTERM exits 0', { timeout: 45_000 }, async (t) => {
  const reg = await startRegistry(t);
  const r = ['--registry', reg.url];
  const a = await runMesh(['register', 'orders', '--address', '127.0.0.1:8081', '--tag', 'version=v1', '--zone', 'eu-1a', ...r]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^registered orders\/orders-127\.0\.0\.1-8081 at 127\.0\.0\.1:8081 \(index \d+\)\n$/);
  const b = await runMesh(['register', 'orders', '--address', '127.0.0.1:8082', '--id', 'o2', '--weight', '50', '--priority', '1', '--tag', 'version=v2', '--json', ...r]);
  assert.equal(b.code, 0, b.stderr);
  const bj = JSON.parse(b.stdout);
  assert.equal(bj.instance.id, 'o2');
  assert.equal(bj.instance.weight, 50);
  assert.equal(bj.instance.priority, 1);
  await runMesh(['register', 'payments', '--address', '127.0.0.1:9090', ...r]);

  const list = await runMesh(['services', ...r]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^SERVICE\s+INSTANCES\s+PASSING\s+WARNING\s+CRITICAL\s+TAGS\n/);
  assert.match(list.stdout, /\norders\s+2\s+2\s+0\s+0\s+version=v1,version=v2\n/);
  assert.match(list.stdout, /\npayments\s+1\s+1\s+0\s+0\s+-\n/);
  const listJson = JSON.parse((await runMesh(['services', '--json', ...r])).stdout);
  assert.deepEqual(listJson.services.map((s: { service: string }) => s.service), ['orders', 'payments']);

  const one = await runMesh(['services', 'orders', ...r], { env: { MESH_REGISTRY: reg.url } });
  assert.match(one.stdout, /\no2\s+127\.0\.0\.1:8082\s+50\s+1\s+-\s+version=v2\s+passing\s+(just now|\d+s ago)\n/);
  const oneJson = JSON.parse((await runMesh(['services', 'orders', '--json'], { env: { MESH_REGISTRY: reg.url } })).stdout);
  assert.deepEqual(oneJson.instances.map((i: { id: string }) => i.id), ['o2', 'orders-127.0.0.1-8081']);

  const status = JSON.parse((await runMesh(['registry', 'status', '--json', ...r])).stdout);
  assert.equal(status.instances, 3);
  assert.equal(status.services, 2);
  assert.equal(status.kind, 'embedded');
  const statusText = await runMesh(['registry', 'status', ...r]);
  assert.match(statusText.stdout, /instances:\s+3\n/);

  const del = await runMesh(['deregister', 'orders', 'o2', ...r]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /^deregistered orders\/o2/);
  const again = await runMesh(['deregister', 'orders', 'o2', ...r]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  assert.match(again.stderr, /no instance "o2" of service "orders"/);
  assert.equal((await reg.client.service('orders')).instances.length, 1);
  const missing = await runMesh(['services', 'nope', ...r]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no service "nope"/);

  const stopped = await reg.stop();
  assert.deepEqual(stopped, { code: 0, signal: null });
  assert.match(reg.daemon.stderr(), /shutting down/);
  assert.match(reg.daemon.stderr(), /stopped after \d+ ms/);
});

test('bad input: one stderr line, exit 2, nothing registered', { timeout: 45_000 }, async (t) => {
  const reg = await startRegistry(t);
  const r = ['--registry', reg.url];
  const cases: [string[], RegExp][] = [
    [['register', 'Orders_1', '--address', '127.0.0.1:1'], /invalid service name "Orders_1"/],
    [['register', 'orders', '--address', 'localhost'], /invalid address "localhost": use host:port/],
    [['register', 'orders', '--address', '127.0.0.1:70000'], /port must be from 1 to 65535/],
    [['register', 'orders', '--address', '999.1.1.1:80'], /not an IPv4 address or host name/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--weight', '0'], /--weight: invalid value "0"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--weight', 'heavy'], /--weight: invalid value "heavy"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--priority', '-1'], /--priority: invalid value "-1"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--ttl', '10parsecs'], /--ttl: invalid ttl "10parsecs"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--tls-port', '0'], /--tls-port: invalid tls-port "0"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--tag', 'v2'], /--tag: invalid tag "v2"/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--ttl', '1s', '--check-tcp', '127.0.0.1:2'], /cannot be combined/],
    [['register', 'orders', '--address', '127.0.0.1:1', '--frobnicate'], /unknown option '--frobnicate'/],
    [['register', 'orders'], /required option '--address <host:port>' not specified/],
    [['register'], /missing required argument 'service'|required option '--address/],
    [['deregister', 'orders'], /missing required argument 'id'/],
    [['services', 'Not A Service'], /invalid service name/],
  ];
  // Independent cases, run side by side (each is a whole CLI start).
  const results = await Promise.all(cases.map(([args]) => runMesh([...args, ...r])));
  for (const [i, [args, re]] of cases.entries()) {
    const res = results[i]!;
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, re, args.join(' '));
    assert.equal(res.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(res.stderr)}`);
    assert.equal(res.stdout, '', args.join(' '));
  }
  const status = await reg.client.status();
  assert.equal(status.instances, 0);
  assert.equal(status.index, 0, 'nothing was sent');
});

test('registry unreachable: one line naming the URL, exit 1', { timeout: 20_000 }, async () => {
  for (const args of [['register', 'orders', '--address', '127.0.0.1:1'], ['services'], ['deregister', 'orders', 'x'], ['registry', 'status']]) {
    const res = await runMesh(args, { env: { MESH_REGISTRY: 'http://127.0.0.1:9' } });
    assert.equal(res.code, 1, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, /^mesh: registry at http:\/\/127\.0\.0\.1:9 is unreachable \(ECONNREFUSED\)/);
    assert.equal(res.stderr.trim().split('\n').length, 1);
  }
});

test('two daemons on one data dir: the second refuses, exit 1, the first keeps serving', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const second = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', reg.dataDir]);
  assert.equal(second.code, 1);
  assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
  assert.match(second.stderr, /^mesh: .*(lock|in use|another)/i);
  assert.match(second.stderr, new RegExp(reg.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal((await reg.client.status()).instances, 0);
});

test('unwritable data dir or busy port: one line, exit 1', { timeout: 30_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'not-a-dir');
  writeFileSync(file, 'x');
  const res = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(file, 'registry')]);
  assert.equal(res.code, 1, res.stderr);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(res.stderr, /^mesh: data dir .* is not writable/);
  if (process.getuid?.() !== 0) {
    const ro = join(dir.path, 'ro');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const res2 = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(ro, 'registry')]);
    assert.equal(res2.code, 1, res2.stderr);
    assert.match(res2.stderr, /^mesh: data dir .* is not writable/);
    chmodSync(ro, 0o700);
  }
  const reg = await startRegistry(t);
  const busy = startMesh(['registry', 'start', '--listen', reg.url.replace('http://', ''), '--data-dir', join(dir.path, 'other')]);
  t.after(async () => { await busy.stop('SIGKILL'); });
  const exit = await busy.exited;
  assert.equal(exit.code, 1);
  assert.match(busy.stderr(), /^mesh: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/);
  assert.equal(busy.stderr().trim().split('\n').length, 1, busy.stderr());
});
