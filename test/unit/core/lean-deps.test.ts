// core/undici-parts.ts and core/hdr-parts.ts load files inside undici and hdr-histogram-js instead of their
// index (which costs a proxy ~25 MiB of RSS). These tests pin the deep paths to the packages' public exports,
// so an upgrade that moves a file fails here instead of in a running proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import * as hdr from 'hdr-histogram-js';
import { Agent, Pool } from '../../../src/core/undici-parts.js';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from '../../../src/core/hdr-parts.js';
import { parseYaml } from '../../../src/core/yaml.js';

test('undici-parts exports the very Pool and Agent classes that undici exports', () => {
  assert.equal(Pool, undici.Pool);
  assert.equal(Agent, undici.Agent);
});

test('an Agent from undici-parts has dispatcher.request() and talks to a real server', async (t) => {
  const server = createServer((req, res) => res.end(`${req.method} ${req.url}`)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  const agent = new Agent();
  t.after(() => agent.close());
  const { port } = server.address() as AddressInfo;
  const res = await agent.request({ origin: `http://127.0.0.1:${port}`, path: '/v1/x?y=1', method: 'GET' });
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), 'GET /v1/x?y=1');
});

test('hdr-parts build() makes the same histogram as the package\'s build()', () => {
  const request = { bitBucketSize: 32 as const, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 2 as const };
  const ours = build(request);
  const theirs = hdr.build(request);
  assert.equal(ours.constructor, theirs.constructor);
  assert.equal(ours.autoResize, false);
  for (const v of [1, 150, 2_500, 99_000, 1_200_000]) { ours.recordValue(v); theirs.recordValue(v); }
  for (const p of [50, 90, 99, 100]) assert.equal(ours.getValueAtPercentile(p), theirs.getValueAtPercentile(p));
});

test('hdr-parts encoding round-trips with the package\'s decoder', () => {
  const h = build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 1_000_000, numberOfSignificantValueDigits: 2 });
  for (const v of [10, 20, 30_000]) h.recordValue(v);
  const text = encodeIntoCompressedBase64(h);
  assert.equal(hdr.decodeFromCompressedBase64(text).totalCount, 3);
  assert.equal(decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(h)).getValueAtPercentile(100), h.getValueAtPercentile(100));
});

test('core/yaml parses with the same yaml module that `import \'yaml\'` gives', async () => {
  const yaml = await import('yaml');
  assert.equal(createRequire(import.meta.url)('yaml').parse, yaml.parse);
  assert.deepEqual(parseYaml('a: 1\nb: [x, y]\n'), { a: 1, b: ['x', 'y'] });
});
