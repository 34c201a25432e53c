// Proxies follow the registry's central config (real registry, real proxies, real backends, the real CLI):
// one `mesh config apply` reaches two proxies; an invalid apply changes nothing anywhere; rollback restores the
// old behaviour; a local --config file wins field by field and `mesh routes explain` says so; a proxy whose
// file makes a central version invalid keeps its last good config and `mesh routes` flags it as older; with the
// registry killed the proxies keep routing on the last config. The same apply reaches proxies on two etcd daemons.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { ETCD_SKIP, startEtcd, startEtcdRegistry, type EtcdProcess } from '../helpers/etcd.js';
import { eventually, runMesh, tempDir } from '../helpers/mesh.js';
import { getJson, instanceOf, register, startBackend, startProxy, viaProxy, type TestProxy } from '../helpers/proxy.js';
import { startTwoVersions } from '../helpers/canary.js';

let etcd: EtcdProcess | undefined;
before(async () => { if (!ETCD_SKIP) etcd = await startEtcd(); });
after(async () => { await etcd?.destroy(); });

const splitTo = (version: string) => `services:\n  web:\n    routes:\n      - split: [ { tags: { version: ${version} } } ]\n`;

async function versionsSeen(proxy: TestProxy, n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(proxy.port, 'web', '/');
    assert.equal(r.status, 200, r.body);
    seen.add(instanceOf(r));
  }
  return seen;
}

const configVersion = async (p: TestProxy) => (await getJson<RoutesSnapshot>(`${p.admin}/routes`)).config?.version;

async function waitForVersion(proxies: TestProxy[], version: number): Promise<void> {
  await eventually(async () => {
    for (const p of proxies) assert.equal(await configVersion(p), version);
    return true;
  }, 10_000);
}

test('two proxies follow one registry: apply, invalid apply, rollback, local-file precedence, older flag, registry down', { timeout: 120_000 }, async (t) => {
  const { dir, reg, v2 } = await startTwoVersions(t, 'mesh-config-proxies-');
  const local = join(dir, 'local.yaml');
  writeFileSync(local, 'services:\n  web:\n    timeout: 9s\n');
  const p1 = await startProxy(t, reg.url);
  const p2 = await startProxy(t, reg.url, ['--config', local]);
  const mesh = (args: string[]) => runMesh([...args, '--registry', reg.url]);
  const write = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };

  assert.deepEqual(await versionsSeen(p1), new Set(['web-v1', 'web-v2']), 'no central config yet: the whole service');

  // One apply reaches both proxies.
  const a1 = await mesh(['config', 'apply', '-f', write('v1.yaml', splitTo('v1')), '--json']);
  assert.equal(a1.code, 0, a1.stderr);
  const first = JSON.parse(a1.stdout) as { version: number };
  await waitForVersion([p1, p2], first.version);
  assert.deepEqual(await versionsSeen(p1), new Set(['web-v1']));
  assert.deepEqual(await versionsSeen(p2), new Set(['web-v1']));

  const dry = await mesh(['config', 'apply', '-f', write('v2.yaml', splitTo('v2')), '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^services\.web changed\n {2}routes: \[\{"split":\[\{"tags":\{"version":"v1"\}\}\]\}\] → \[\{"split":\[\{"tags":\{"version":"v2"\}\}\]\}\]\n/);
  assert.match(dry.stdout, /dry run: nothing applied/);
  const a2 = await mesh(['config', 'apply', '-f', join(dir, 'v2.yaml'), '--json']);
  const second = JSON.parse(a2.stdout) as { version: number };
  await waitForVersion([p1, p2], second.version);
  assert.deepEqual(await versionsSeen(p1), new Set(['web-v2']));

  // Invalid applies: one line naming the file and field, exit 1, every proxy stays where it was.
  for (const [text, field] of [
    ['services:\n  web:\n    retries: three\n', /services\.web\.retries must be an integer/],
    ['services:\n  web:\n    retires: 2\n', /services\.web\.retires is not a known setting/],
    ['services:\n  web:\n    routes:\n      - split: [ { tags: { version: v1 }, weight: 0 } ]\n', /services\.web\.routes\[0\]\.split needs at least one weight above 0/],
  ] as const) {
    const bad = await mesh(['config', 'apply', '-f', write('bad.yaml', text)]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, field);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
  const huge = await mesh(['config', 'apply', '-f', write('huge.yaml', `# ${'x'.repeat(5 * 1024 * 1024)}\n`)]);
  assert.equal(huge.code, 1);
  assert.match(huge.stderr, /huge\.yaml is \d+ bytes; the central config holds at most 262144/);
  const unmatched = await mesh(['config', 'apply', '-f', write('v3.yaml', splitTo('v3')), '--dry-run']);
  assert.match(unmatched.stderr, /warning: services\.web\.routes\[0\]\.split\[0\]: no registered instance of web has tags version=v3/);
  assert.equal(await configVersion(p1), second.version);
  assert.equal(await configVersion(p2), second.version);
  assert.deepEqual(await versionsSeen(p2), new Set(['web-v2']));

  // Rollback restores the first behaviour.
  const back = await mesh(['config', 'rollback', String(first.version), '--json']);
  assert.equal(back.code, 0, back.stderr);
  await waitForVersion([p1, p2], (JSON.parse(back.stdout) as { version: number }).version);
  assert.deepEqual(await versionsSeen(p1), new Set(['web-v1']));
  const hist = await mesh(['config', 'history']);
  assert.match(hist.stdout, new RegExp(`rollback to ${first.version}`));

  // Precedence: p2's file sets web's timeout; its routes come from the central config.
  const explain = await runMesh(['routes', 'explain', 'http://web/', '--proxy', p2.admin]);
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /config {3}central version \d+; local file: timeout; central: routes; built-in: the rest/);
  const explainJson = JSON.parse((await runMesh(['routes', 'explain', 'http://web/', '--proxy', p1.admin, '--json'])).stdout) as { settingSources: { fields: Record<string, string> } };
  assert.equal(explainJson.settingSources.fields.routes, 'central');
  assert.equal(explainJson.settingSources.fields.timeout, 'built-in');

  // A central perTryTimeout above p2's local timeout is invalid at p2 only: p2 keeps its last good version.
  const running = await configVersion(p2);
  const a3 = await mesh(['config', 'apply', '-f', write('t.yaml', 'services:\n  web:\n    perTryTimeout: 10s\n    routes:\n      - split: [ { tags: { version: v2 } } ]\n'), '--json']);
  const third = JSON.parse(a3.stdout) as { version: number };
  await waitForVersion([p1], third.version);
  await eventually(async () => (await getJson<RoutesSnapshot>(`${p2.admin}/routes`)).config?.refused?.version === third.version);
  assert.equal(await configVersion(p2), running);
  const both = await runMesh(['routes', '--proxy', p1.admin, '--proxy', p2.admin]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, new RegExp(`proxy ${p2.admin}\\n.*\\nconfig version ${running} with local file .* \\(OLDER: other proxies run version ${third.version}\\) \\(refused version ${third.version}: services\\.web\\.perTryTimeout`));

  // Registry down: both keep routing on what they run.
  await reg.daemon.stop('SIGKILL');
  await eventually(async () => (await getJson<RoutesSnapshot>(`${p1.admin}/routes`)).config?.connected === false);
  assert.deepEqual(await versionsSeen(p1), new Set(['web-v2']));
  assert.deepEqual(await versionsSeen(p2), new Set(['web-v1']));
  assert.equal(await configVersion(p1), third.version);
});

test('two proxies on two etcd daemons pick up one apply', { skip: ETCD_SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-config-etcd-');
  t.after(dir.cleanup);
  const a = await startEtcdRegistry(t, etcd!.url, '/cfgp');
  const b = await startEtcdRegistry(t, etcd!.url, '/cfgp');
  const v1 = await startBackend(t, 'web-v1');
  const v2 = await startBackend(t, 'web-v2');
  await register(a.url, 'web', v1, ['--tag', 'version=v1']);
  await register(a.url, 'web', v2, ['--tag', 'version=v2']);
  const p1 = await startProxy(t, a.url);
  const p2 = await startProxy(t, b.url);
  const file = join(dir.path, 'v2.yaml');
  writeFileSync(file, splitTo('v2'));
  const r = await runMesh(['config', 'apply', '-f', file, '--json', '--registry', a.url]);
  assert.equal(r.code, 0, r.stderr);
  await waitForVersion([p1, p2], (JSON.parse(r.stdout) as { version: number }).version);
  assert.deepEqual(await versionsSeen(p1), new Set(['web-v2']));
  assert.deepEqual(await versionsSeen(p2), new Set(['web-v2']));
});
