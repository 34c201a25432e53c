// The central config in a real registry daemon, on both stores: versioned by the store's index, validated with
// the proxy's own schema (field-level 400, nothing changed), history and rollback, durable across a restart,
// writes locked by the admin token, and the watch that proxies follow.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RegistryClient, type ConfigWatchEvent } from '../../src/registry/client.js';
import { ETCD_SKIP, startEtcd, startEtcdRegistry, type EtcdProcess } from '../helpers/etcd.js';
import { startMesh, tempDir } from '../helpers/mesh.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let etcd: EtcdProcess | undefined;
before(async () => { if (!ETCD_SKIP) etcd = await startEtcd(); });
after(async () => { await etcd?.destroy(); });

async function rawPut(url: string, path: string, body: string, token?: string): Promise<{ status: number; json: { error?: { code: string; message: string; field?: string } } }> {
  const res = await fetch(`${url}${path}`, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  return { status: res.status, json: await res.json() as never };
}

/** The same scenario on both stores: apply, invalid apply, delete, history, rollback, watch. */
async function scenario(reg: TestRegistry): Promise<void> {
  const c = reg.client;
  const empty = await c.config();
  assert.equal(empty.version, 0);
  const watcher = c.watchConfig();
  const seen: ConfigWatchEvent[] = [];
  const waiters: Array<() => void> = [];
  watcher.on('event', (e) => { seen.push(e); for (const w of waiters.splice(0)) w(); });
  const waitVersion = (v: number) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no watch event for version ${v}; saw ${seen.map((e) => e.version)}`)), 5_000);
    const check = () => { if (seen.some((e) => e.version === v)) { clearTimeout(timer); resolve(); } else waiters.push(check); };
    check();
  });
  try {
    await waitVersion(0);
    const v1 = await c.applyConfig({ proxy: { services: { web: { retries: 3, timeout: '2s' }, api: { retries: 1 } } } });
    assert.equal(v1.changed, true);
    assert.ok(v1.version > 0 && v1.version === (await c.config()).index, 'the version is the store index of the write');
    assert.deepEqual(v1.diff.map((d) => `${d.entry} ${d.change}`), ['services.api added', 'services.web added']);
    await waitVersion(v1.version);

    // Invalid: 400 naming the field, and nothing changes.
    const bad = await rawPut(reg.url, '/v1/config', JSON.stringify({ proxy: { services: { web: { retries: 'three' } } } }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error?.code, 'MESH_ERR_INVALID_ARGUMENT');
    assert.equal(bad.json.error?.field, 'proxy.services.web.retries');
    assert.equal((await c.config()).version, v1.version, 'an invalid apply changes nothing');

    const dry = await c.applyConfig({ proxy: { services: { web: { retries: 1, timeout: '2s' } } } }, { dryRun: true });
    assert.deepEqual(dry.diff, [{ entry: 'services.web', change: 'changed', fields: [{ field: 'retries', from: 3, to: 1 }] }]);
    assert.equal((await c.config()).version, v1.version, 'a dry run writes nothing');

    const same = await c.applyConfig({ proxy: { services: { web: { retries: 3, timeout: '2s' } } } });
    assert.equal(same.changed, false);
    assert.equal(same.version, v1.version, 'an apply that changes nothing makes no version');

    const v2 = await c.applyConfig({ proxy: { services: { web: { retries: 0 } } } });
    assert.deepEqual((await c.configEntry('web')).entry, { retries: 0 });
    assert.deepEqual((await c.configEntry('api')).entry, { retries: 1 }, 'entries the apply does not name stay');
    const v3 = await c.deleteConfigEntry('api');
    await assert.rejects(c.configEntry('api'), { code: 'MESH_ERR_NOT_FOUND' });
    await assert.rejects(c.deleteConfigEntry('api'), { code: 'MESH_ERR_NOT_FOUND' });

    const h = await c.configHistory();
    assert.deepEqual(h.versions.map((r) => r.version), [v3.version, v2.version, v1.version]);
    assert.deepEqual(h.versions[0]!.entries, ['services.api removed']);

    const back = await c.rollbackConfig(v1.version);
    assert.ok(back.version > v3.version);
    const now = await c.config();
    assert.deepEqual(now.config.proxy.services, { api: { retries: 1 }, web: { retries: 3, timeout: '2s' } });
    assert.equal(now.change, `rollback to ${v1.version}`);
    await assert.rejects(c.rollbackConfig(999_999), { code: 'MESH_ERR_NOT_FOUND' });
    await waitVersion(back.version);
    assert.deepEqual(seen.map((e) => e.version), [0, v1.version, v2.version, v3.version, back.version], 'the watch saw every version in order');
  } finally {
    watcher.close();
  }
}

test('embedded store: config versions, validation, history, rollback and watch; durable across a restart', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  await scenario(reg);
  const before = await reg.client.config();
  const history = await reg.client.configHistory();
  assert.equal((await reg.stop()).code, 0);
  const again = await startRegistry(t, { dataDir: reg.dataDir });
  assert.deepEqual(await again.client.config(), before, 'the config survives a restart');
  assert.deepEqual(await again.client.configHistory(), history, 'so does its history');
});

test('etcd store: the same, and a second daemon on the prefix serves the same versions', { skip: ETCD_SKIP, timeout: 60_000 }, async (t) => {
  const a = await startEtcdRegistry(t, etcd!.url, '/cfg1');
  await scenario(a);
  const b = await startEtcdRegistry(t, etcd!.url, '/cfg1');
  assert.deepEqual(await b.client.config(), await a.client.config());
  assert.deepEqual((await b.client.configHistory()).versions, (await a.client.configHistory()).versions);
  // Concurrent applies through two daemons: compare-and-swap loses neither.
  await Promise.all([
    a.client.applyConfig({ proxy: { services: { one: { retries: 1 } } } }),
    b.client.applyConfig({ proxy: { services: { two: { retries: 2 } } } }),
  ]);
  const services = (await a.client.config()).config.proxy.services ?? {};
  assert.deepEqual(Object.keys(services).sort(), ['api', 'one', 'two', 'web']);
});

test('config writes need the admin token; reads stay open', { timeout: 30_000 }, async (t) => {
  const tmp = tempDir('mesh-config-token-');
  t.after(tmp.cleanup);
  const tokenFile = join(tmp.path, 'token');
  writeFileSync(tokenFile, 'admin-token-1\n', { mode: 0o600 });
  const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'data'), '--token-file', tokenFile]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const url = (await d.waitFor(/listening on (http:\/\/[\d.:]+)/))[1]!;
  const anon = new RegistryClient({ url });
  const admin = new RegistryClient({ url, token: 'admin-token-1' });
  t.after(() => anon.close());
  t.after(() => admin.close());
  await assert.rejects(anon.applyConfig({ proxy: { services: { web: { retries: 1 } } } }), { code: 'MESH_ERR_UNAUTHORIZED' });
  assert.equal((await rawPut(url, '/v1/config', '{"proxy":{}}', 'wrong')).status, 401);
  assert.equal((await anon.config()).version, 0);
  const v = await admin.applyConfig({ proxy: { services: { web: { retries: 1 } } } });
  await assert.rejects(anon.rollbackConfig(v.version), { code: 'MESH_ERR_UNAUTHORIZED' });
  await assert.rejects(anon.deleteConfigEntry('web'), { code: 'MESH_ERR_UNAUTHORIZED' });
  assert.equal((await anon.config()).version, v.version);
});
