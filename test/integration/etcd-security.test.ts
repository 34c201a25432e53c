// The etcd store against an etcd that demands what production etcds demand: TLS with client certificates, and
// authentication with a user whose role may only touch the registry's prefix. Real etcd, real `mesh` daemons;
// the certificates come from openssl and auth is switched on through etcd's own JSON gateway with curl.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InstanceSpec } from '../../src/core/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { curl } from '../helpers/curl.js';
import { ETCD_SKIP, etcdCertificates, startEtcd } from '../helpers/etcd.js';
import { runMesh, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';
import { recordWatch } from '../helpers/registry.js';

const spec = (service: string, id: string, extra: Partial<InstanceSpec> = {}): InstanceSpec =>
  ({ service, id, address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {}, ...extra });

type After = { after(fn: () => Promise<void> | void): void };

/** Starts `mesh registry start --store etcd` with extra flags/env; resolves with its client once it listens. */
async function daemonOn(t: After, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ daemon: Daemon; client: RegistryClient; url: string }> {
  const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', ...args], { env });
  t.after(async () => { await daemon.stop('SIGTERM'); });
  const url = (await daemon.waitFor(/listening on (http:\/\/[\d.:]+)/, 20_000))[1]!;
  const client = new RegistryClient({ url, timeoutMs: 5_000 });
  t.after(() => client.close());
  return { daemon, client, url };
}

test('etcd with TLS and client certificates: daemons connect with --etcd-ca/--etcd-cert/--etcd-key, and not without them', { skip: ETCD_SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-etcd-tls-');
  t.after(dir.cleanup);
  const tls = etcdCertificates(dir.path);
  const etcd = await startEtcd({ tls });
  t.after(() => etcd.destroy());
  assert.match(etcd.url, /^https:/);
  const flags = ['--etcd-endpoints', etcd.url, '--etcd-prefix', '/tls', '--etcd-ca', tls.caFile, '--etcd-cert', tls.clientCertFile, '--etcd-key', tls.clientKeyFile];
  const a = await daemonOn(t, flags);
  const b = await daemonOn(t, flags);
  const watch = await recordWatch(t, b.client, ['web']);
  await a.client.register(spec('web', 'w1', { check: { ttlMs: 10_000 } }));
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'w1', 10_000);
  assert.ok(await a.client.heartbeat('web', 'w1'));
  const status = JSON.parse((await runMesh(['registry', 'status', '--json', '--registry', b.url])).stdout);
  assert.equal(status.kind, 'etcd');
  assert.equal(status.readOnly, false);

  // etcd asks for a client certificate: without one the handshake fails, and the daemon says so in one line.
  const noCert = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', etcd.url, '--etcd-ca', tls.caFile], { timeoutMs: 30_000 });
  assert.equal(noCert.code, 1);
  assert.equal(noCert.stderr.trim().split('\n').length, 1, noCert.stderr);
  assert.match(noCert.stderr, /etcd at https:\/\/127\.0\.0\.1:\d+ is unreachable: TLS handshake failed \(.*certificate.*check --etcd-cert/);
  // A plain-http endpoint against the TLS port is refused the same way.
  const plain = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', etcd.url.replace('https', 'http')], { timeoutMs: 30_000 });
  assert.equal(plain.code, 1);
  assert.equal(plain.stderr.trim().split('\n').length, 1, plain.stderr);
});

test('etcd with authentication: a user limited to the registry prefix works; a wrong password is one clear line', { skip: ETCD_SKIP, timeout: 60_000 }, async (t) => {
  const etcd = await startEtcd();
  t.after(() => etcd.destroy());
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const gateway = async (path: string, body: object) => {
    const r = await curl(['-X', 'POST', '--fail-with-body', '-H', 'content-type: application/json', '-d', JSON.stringify(body), `${etcd.url}/v3/${path}`]);
    assert.equal(r.code, 0, `${path}: ${r.stdout} ${r.stderr}`);
  };
  // As `etcdctl user add root; user grant-role root root; role add mesh; role grant-permission --prefix mesh
  // readwrite /sec/; user add mesh; user grant-role mesh mesh; auth enable` would.
  await gateway('auth/user/add', { name: 'root', password: 'root-secret' });
  await gateway('auth/user/grant', { user: 'root', role: 'root' });
  await gateway('auth/role/add', { name: 'mesh' });
  await gateway('auth/role/grant', { name: 'mesh', perm: { permType: 'READWRITE', key: b64('/sec/'), range_end: b64('/sec0') } });
  await gateway('auth/user/add', { name: 'mesh', password: 'mesh-secret' });
  await gateway('auth/user/grant', { user: 'mesh', role: 'mesh' });
  await gateway('auth/enable', {});
  const anonymous = await curl(['-X', 'POST', '-d', JSON.stringify({ key: b64('/sec/x') }), `${etcd.url}/v3/kv/range`]);
  assert.match(anonymous.stdout, /user name is empty|permission denied|invalid auth token/i, 'auth is really on');

  const flags = ['--etcd-endpoints', etcd.url, '--etcd-prefix', '/sec', '--etcd-username', 'mesh'];
  const a = await daemonOn(t, flags, { MESH_ETCD_PASSWORD: 'mesh-secret' });
  const b = await daemonOn(t, flags, { MESH_ETCD_PASSWORD: 'mesh-secret' });
  const watch = await recordWatch(t, b.client, ['api']);
  await a.client.register(spec('api', 'a1', { check: { ttlMs: 10_000 } }));
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'a1', 10_000);
  assert.ok(await b.client.heartbeat('api', 'a1'));
  assert.equal(await a.client.deregister('api', 'a1').then(() => true), true);
  await watch.next((e) => e.type === 'remove' && e.id === 'a1', 10_000);
  assert.equal((await b.client.status()).details.members, 2, 'membership keys live under the permitted prefix');

  const wrong = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', ...flags], { env: { MESH_ETCD_PASSWORD: 'nope' }, timeoutMs: 30_000 });
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr.trim().split('\n').length, 1, JSON.stringify(wrong.stderr));
  assert.match(wrong.stderr, /refused the credentials/);
  // Outside its prefix the user may not read: the daemon reports that as a refusal, not an outage.
  const outside = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--etcd-endpoints', etcd.url, '--store', 'etcd', '--etcd-prefix', '/other', '--etcd-username', 'mesh'], { env: { MESH_ETCD_PASSWORD: 'mesh-secret' }, timeoutMs: 30_000 });
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /refused the credentials: .*permission denied/i);
});
