// Policies and route rules over real requests: weighted 100:300, consistent hash on a header, a 90/10 split
// between tag subsets, header matches, and the config file reloaded live (and a broken one refused).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { instanceOf, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';

async function spread(port: number, service: string, n: number, headers: Record<string, string> = {}, concurrency = 16): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next++;
      const r = await viaProxy(port, service, '/', { headers });
      assert.equal(r.status, 200, r.body);
      counts.set(instanceOf(r), (counts.get(instanceOf(r)) ?? 0) + 1);
    }
  }));
  return counts;
}

test('weighted, consistent-hash, splits, header routes and live config reload', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir();
  t.after(dir.cleanup);
  const config = join(dir.path, 'mesh.yaml');
  writeFileSync(config, [
    'services:',
    '  weighted:',
    '    policy: weighted',
    '  sticky:',
    '    policy: consistent-hash',
    '    hashHeader: x-user',
    '  canary:',
    '    routes:',
    '      - match: { headers: { x-canary: "1" } }',
    '        split: [{ tags: { version: v2 } }]',
    '      - match: { pathPrefix: / }',
    '        split:',
    '          - { tags: { version: v1 }, weight: 90 }',
    '          - { tags: { version: v2 }, weight: 10 }',
    '',
  ].join('\n'));
  const [w1, w3, h1, h2, h3, v1, v2] = await Promise.all(['w1', 'w3', 'h1', 'h2', 'h3', 'v1', 'v2'].map((n) => startBackend(t, n)));
  await register(reg.url, 'weighted', w1!, ['--weight', '100']);
  await register(reg.url, 'weighted', w3!, ['--weight', '300']);
  for (const h of [h1!, h2!, h3!]) await register(reg.url, 'sticky', h);
  await register(reg.url, 'canary', v1!, ['--tag', 'version=v1']);
  await register(reg.url, 'canary', v2!, ['--tag', 'version=v2']);
  const proxy = await startProxy(t, reg.url, ['--config', config]);

  await t.test('weights 100:300 → 25% ± 3% over 4,000 requests', async () => {
    const c = await spread(proxy.port, 'weighted', 4000);
    const share = (c.get('w1') ?? 0) / 4000;
    assert.ok(Math.abs(share - 0.25) <= 0.03, `w1 got ${(share * 100).toFixed(1)}%`);
  });

  await t.test('consistent hash keeps each key on one instance', async () => {
    const used = new Set<string>();
    for (let k = 0; k < 24; k++) {
      const c = await spread(proxy.port, 'sticky', 6, { 'x-user': `user-${k}` }, 2);
      assert.equal(c.size, 1, `key user-${k} landed on ${[...c.keys()].join(', ')}`);
      used.add([...c.keys()][0]!);
    }
    assert.ok(used.size >= 2, 'every key hashed to the same instance');
  });

  await t.test('a 90/10 split between tag subsets, and a header match', async () => {
    const c = await spread(proxy.port, 'canary', 2000);
    const v2share = (c.get('v2') ?? 0) / 2000;
    assert.ok(Math.abs(v2share - 0.1) <= 0.03, `v2 got ${(v2share * 100).toFixed(1)}%`);
    const h = await spread(proxy.port, 'canary', 50, { 'x-canary': '1' });
    assert.deepEqual([...h.keys()], ['v2']);
  });

  await t.test('a changed file applies live; a broken one is refused and the old one kept', async () => {
    writeFileSync(config, 'services:\n  canary:\n    routes:\n      - split: [{ tags: { version: v1 } }]\n');
    await proxy.daemon.waitFor(/config reloaded from/);
    await eventually(async () => { const c = await spread(proxy.port, 'canary', 40); return c.size === 1 && c.has('v1'); }, 5_000);
    writeFileSync(config, 'services:\n  canary:\n    policy: fastest-please\n');
    await proxy.daemon.waitFor(/refused, keeping the previous one: .*services\.canary\.policy/);
    const c = await spread(proxy.port, 'canary', 40);
    assert.deepEqual([...c.keys()], ['v1'], 'the refused config changed routing');
    proxy.daemon.child.kill('SIGHUP');
    await eventually(() => (proxy.daemon.stderr().match(/refused, keeping/g)?.length ?? 0) >= 2, 5_000);
  });
});
