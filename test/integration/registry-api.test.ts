// The registry's HTTP API with a real client (curl) against the real daemon: bad requests get a 4xx JSON error
// and leave the store unchanged; good ones carry X-Mesh-Index; the watch speaks server-sent events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';

interface CurlResult { status: number; headers: Record<string, string>; body: string }

function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--max-time', '10', ...args], { maxBuffer: 8 * 1024 * 1024 }, (err, stdout) => {
      if (err && !stdout) { reject(err); return; }
      const blocks = stdout.split('\r\n\r\n');
      while (/^HTTP\/1\.1 100/.test(blocks[0] ?? '')) blocks.shift();
      const head = blocks.shift()!;
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: blocks.join('\r\n\r\n') });
    });
  });
}

test('bad API requests: 4xx JSON errors, store unchanged', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir();
  t.after(dir.cleanup);
  const big = join(dir.path, 'big.json');
  writeFileSync(big, `{"address":"127.0.0.1:1","tags":{"x":"${'a'.repeat(1024 * 1024)}"}}`);
  const ok = await curl(['-X', 'PUT', '-H', 'content-type: application/json', '-d', '{"address":"127.0.0.1:8080"}', `${reg.url}/v1/services/orders/instances/o1`]);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['x-mesh-index'], String(JSON.parse(ok.body).index));
  const before = await reg.client.status();
  const put = (body: string, path = '/v1/services/orders/instances/o2') => ['-X', 'PUT', '-H', 'content-type: application/json', '--data-binary', body, `${reg.url}${path}`];
  const cases: [string, string[], number, string][] = [
    ['malformed JSON', put('{"address":'), 400, 'MESH_ERR_INVALID_JSON'],
    ['wrong type', put('{"address":"127.0.0.1:1","weight":"100"}'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['wrong type (tags)', put('{"address":"127.0.0.1:1","tags":["v2"]}'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['unknown field', put('{"address":"127.0.0.1:1","adress":"x"}'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['unknown check field', put('{"address":"127.0.0.1:1","check":{"ttl":"10s"}}'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['id mismatch', put('{"address":"127.0.0.1:1","id":"other"}'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['invalid service', put('{"address":"127.0.0.1:1"}', '/v1/services/BAD_NAME/instances/x'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['body over 1 MiB', put(`@${big}`), 413, 'MESH_ERR_BODY_TOO_LARGE'],
    ['unknown route', [`${reg.url}/v1/nothing`], 404, 'MESH_ERR_NOT_FOUND'],
    ['unversioned route', [`${reg.url}/services`], 404, 'MESH_ERR_NOT_FOUND'],
    ['wrong method', ['-X', 'POST', '-d', '{}', `${reg.url}/v1/services/orders/instances/o2`], 405, 'MESH_ERR_METHOD_NOT_ALLOWED'],
    ['wrong method on a list', ['-X', 'DELETE', `${reg.url}/v1/services`], 405, 'MESH_ERR_METHOD_NOT_ALLOWED'],
    ['heartbeat unknown instance', ['-X', 'PUT', `${reg.url}/v1/services/orders/instances/ghost/heartbeat`], 404, 'MESH_ERR_NOT_FOUND'],
    ['heartbeat unknown field', put('{"state":"passing"}', '/v1/services/orders/instances/o1/heartbeat'), 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['delete unknown', ['-X', 'DELETE', `${reg.url}/v1/services/orders/instances/ghost`], 404, 'MESH_ERR_NOT_FOUND'],
  ];
  for (const [name, args, status, code] of cases) {
    const res = await curl(args);
    assert.equal(res.status, status, `${name}: ${res.body}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/, name);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code, name);
    assert.ok(body.error.message.length > 0, name);
    assert.ok(res.headers['x-mesh-index'], `${name}: X-Mesh-Index`);
    if (status === 405) assert.ok(res.headers.allow, `${name}: Allow`);
  }
  const after = await reg.client.status();
  assert.equal(after.index, before.index, 'the store index did not move');
  assert.deepEqual((await reg.client.service('orders')).instances.map((i) => i.id), ['o1']);
});

test('the watch is a server-sent-event stream that curl can read', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  await reg.client.register({ service: 'sse', id: 's1', address: '127.0.0.1:1', weight: 100, priority: 0, tags: {} });
  // curl -N stops at --max-time; the reset is the first event.
  const res = await new Promise<string>((resolve) => {
    execFile('curl', ['-sS', '-N', '--max-time', '1', `${reg.url}/v1/watch?service=sse`], (_err, stdout) => resolve(stdout));
  });
  assert.match(res, /^id: 1\nevent: reset\ndata: \{"type":"reset","index":1,"instances":\[\{/);
});
