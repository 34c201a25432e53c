// Config validation: defaults, inheritance, and a precise message for every kind of mistake.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { BUILTIN_DEFAULTS, loadConfig, parseConfig, settingsFor } from '../../../src/proxy/config.js';
import { tempDir } from '../../helpers/mesh.js';

test('an empty config gives the built-in defaults', () => {
  const c = parseConfig({});
  assert.deepEqual(settingsFor(c, 'anything'), BUILTIN_DEFAULTS);
  assert.equal(BUILTIN_DEFAULTS.policy, 'round-robin');
});

test('services inherit from defaults and override field by field', () => {
  const c = parseConfig({
    defaults: { timeout: '5s', retries: 1, outlier: { consecutiveFailures: 3 } },
    services: { orders: { policy: 'consistent-hash', hashHeader: 'X-User', maxConcurrent: 100, outlier: { baseEjectionTime: '10s' }, healthyIncludesWarning: false } },
  });
  const o = settingsFor(c, 'orders');
  assert.equal(o.timeoutMs, 5000);
  assert.equal(o.perTryTimeoutMs, 5000);
  assert.equal(o.retries, 1);
  assert.equal(o.policy, 'consistent-hash');
  assert.equal(o.hashHeader, 'x-user');
  assert.equal(o.maxConcurrent, 100);
  assert.equal(o.healthyIncludesWarning, false);
  assert.deepEqual(o.outlier, { ...BUILTIN_DEFAULTS.outlier, consecutiveFailures: 3, baseEjectionMs: 10_000 });
  assert.equal(settingsFor(c, 'other').timeoutMs, 5000);
  assert.equal(settingsFor(c, 'other').policy, 'round-robin');
});

test('allowUnderscoresInHeaders: off by default, set per service or in defaults', () => {
  assert.equal(BUILTIN_DEFAULTS.allowUnderscoresInHeaders, false);
  const c = parseConfig({ services: { legacy: { allowUnderscoresInHeaders: true } } });
  assert.equal(settingsFor(c, 'legacy').allowUnderscoresInHeaders, true);
  assert.equal(settingsFor(c, 'orders').allowUnderscoresInHeaders, false);
  const d = parseConfig({ defaults: { allowUnderscoresInHeaders: true }, services: { orders: { allowUnderscoresInHeaders: false } } });
  assert.deepEqual([settingsFor(d, 'orders').allowUnderscoresInHeaders, settingsFor(d, 'other').allowUnderscoresInHeaders], [false, true]);
});

test('every mistake names its field', () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /\(top level\) must be a mapping/],
    [{ extra: 1 }, /\(top level\)\.extra is not a known setting/],
    [{ services: { orders: { policy: 'fastest' } } }, /services\.orders\.policy must be one of round-robin/],
    [{ services: { orders: { timeout: 'soon' } } }, /services\.orders\.timeout "soon" is not a duration/],
    [{ services: { orders: { timeout: '1s', perTryTimeout: '2s' } } }, /perTryTimeout .* must not exceed timeout/],
    [{ services: { orders: { retries: -1 } } }, /services\.orders\.retries must be an integer from 0 to 10/],
    [{ services: { orders: { maxConcurrent: 1.5 } } }, /maxConcurrent must be an integer/],
    [{ services: { Orders: {} } }, /services\.Orders is not a valid service name/],
    [{ services: { orders: { routes: {} } } }, /services\.orders\.routes must be a list/],
    [{ services: { orders: { routes: [{ match: { pathPrefix: 'api' } }] } } }, /routes\[0\]\.match\.pathPrefix must be a path starting with "\/"/],
    [{ services: { orders: { routes: [{ split: [] }] } } }, /routes\[0\]\.split must be a non-empty list/],
    [{ services: { orders: { routes: [{ split: [{ tags: { v: 1 } }] }] } } }, /split\[0\]\.tags\.v must be a string/],
    [{ services: { orders: { routes: [{ split: [{ weight: 0 }] }] } } }, /needs at least one weight above 0/],
    [{ services: { orders: { routes: [{ match: { headers: { 'bad name': 'x' } } }] } } }, /is not a valid header name/],
    [{ services: { orders: { hashHeader: 'a b' } } }, /hashHeader "a b" is not a valid header name/],
    [{ services: { orders: { outlier: { maxEjectionPercent: 101 } } } }, /outlier\.maxEjectionPercent must be an integer from 0 to 100/],
    [{ defaults: { routes: [] } }, /defaults\.routes is not a known setting/],
    [{ services: { orders: { allowUnderscoresInHeaders: 'yes' } } }, /services\.orders\.allowUnderscoresInHeaders must be true or false/],
  ];
  for (const [doc, re] of bad) {
    assert.throws(() => parseConfig(doc), (err: unknown) => err instanceof ValidationError && re.test(err.message), JSON.stringify(doc));
  }
});

test('loadConfig reads YAML and JSON and reports the file in its errors', async () => {
  const dir = tempDir();
  try {
    const y = join(dir.path, 'mesh.yaml');
    writeFileSync(y, 'services:\n  orders:\n    policy: weighted\n    routes:\n      - match: { pathPrefix: /api }\n        split: [{ tags: { version: v2 }, weight: 1 }]\n');
    const c = await loadConfig(y);
    assert.equal(settingsFor(c, 'orders').policy, 'weighted');
    assert.equal(settingsFor(c, 'orders').routes[0]!.pathPrefix, '/api');
    const j = join(dir.path, 'mesh.json');
    writeFileSync(j, '{"services": {"orders": {"retries": 0}}}');
    assert.equal(settingsFor(await loadConfig(j), 'orders').retries, 0);
    writeFileSync(j, '{"services": ');
    await assert.rejects(loadConfig(j), (e: Error & { code?: string }) => e.code === 'MESH_ERR_CONFIG_INVALID' && e.message.includes(j));
    await assert.rejects(loadConfig(join(dir.path, 'missing.yaml')), /cannot read config .*ENOENT/);
    writeFileSync(y, 'services:\n  orders:\n    retries: lots\n');
    await assert.rejects(loadConfig(y), /config .*mesh\.yaml: services\.orders\.retries must be an integer/);
  } finally {
    dir.cleanup();
  }
});
