// The registry API is not open to anyone: with a token every mutating call needs it (401 and the store
// unchanged otherwise), reads stay open, and --tls-cert/--tls-key serve the API over HTTPS that clients
// verify with --ca. Real curl and the real bin/mesh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMesh, startMesh, tempDir } from '../helpers/mesh.js';
import { makePki, type TestPki } from '../unit/tls/pki.js';

let tmp: ReturnType<typeof tempDir>;
let pki: TestPki;
before(async () => { tmp = tempDir('mesh-reg-auth-'); pki = await makePki(tmp.path, 'mesh'); });
after(() => tmp.cleanup());

function curl(args: string[]): Promise<{ code: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => { const lines = out.split('\n'); const status = Number(lines.pop()); resolve({ code: code ?? -1, status, body: lines.join('\n') }); });
  });
}

const SPEC = JSON.stringify({ address: '127.0.0.1:7001' });

test('a token locks mutating calls: 401 without or with a wrong token, store unchanged; reads stay open', { timeout: 30_000 }, async (t) => {
  const tokenFile = join(tmp.path, 'token');
  writeFileSync(tokenFile, 's3cret-token-value\n', { mode: 0o600 });
  const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'data1'), '--token-file', tokenFile]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const url = (await d.waitFor(/listening on (http:\/\/[\d.:]+)/))[1]!;
  const put = (extra: string[]) => curl(['-X', 'PUT', '-H', 'content-type: application/json', '-d', SPEC, ...extra, `${url}/v1/services/orders/instances/o1`]);
  for (const extra of [[], ['-H', 'Authorization: Bearer wrong'], ['-H', 'Authorization: Bearer s3cret-token-valu'], ['-H', 'Authorization: Basic czNjcmV0'], ['-H', 'Authorization: Bearer s3cret-token-value-and-more']]) {
    const r = await put(extra);
    assert.equal(r.status, 401, extra.join(' '));
    assert.equal(JSON.parse(r.body).error.code, 'MESH_ERR_UNAUTHORIZED');
  }
  const del = await curl(['-X', 'DELETE', `${url}/v1/services/orders/instances/o1`]);
  assert.equal(del.status, 401);
  const list = await curl([`${url}/v1/services`]);
  assert.equal(list.status, 200, 'reads need no token');
  assert.deepEqual(JSON.parse(list.body).services, [], 'nothing was registered');
  // the CLI: refused without a token (exit 1, one line), accepted with --token and with MESH_TOKEN
  const no = await runMesh(['register', 'orders', '--id', 'o1', '--address', '127.0.0.1:7001', '--registry', url]);
  assert.equal(no.code, 1);
  assert.match(no.stderr.trim(), /needs Authorization: Bearer <token> \(pass --token or set MESH_TOKEN\)/);
  assert.equal(no.stderr.trim().split('\n').length, 1);
  const yes = await runMesh(['register', 'orders', '--id', 'o1', '--address', '127.0.0.1:7001', '--registry', url, '--token', 's3cret-token-value']);
  assert.equal(yes.code, 0, yes.stderr);
  const env = await runMesh(['deregister', 'orders', 'o1', '--registry', url], { env: { MESH_TOKEN: 's3cret-token-value' } });
  assert.equal(env.code, 0, env.stderr);
  const ok = await put(['-H', 'Authorization: Bearer s3cret-token-value']);
  assert.equal(ok.status, 200, ok.body);
});

test('--tls-cert/--tls-key serve the API over HTTPS; clients verify it with --ca', { timeout: 30_000 }, async (t) => {
  const cert = await pki.leaf('registry');
  const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'data2'), '--tls-cert', cert.cert, '--tls-key', cert.key], { env: { MESH_TOKEN: 'tok' } });
  t.after(async () => { await d.stop('SIGKILL'); });
  const url = (await d.waitFor(/listening on (https:\/\/[\d.:]+)/))[1]!;
  const r = await curl(['--cacert', pki.caPath, `${url}/v1/services`]);
  assert.equal(r.status, 200);
  const insecure = await curl([`${url}/v1/services`]);
  assert.notEqual(insecure.code, 0, 'curl does not trust the mesh CA by default');
  const reg = await runMesh(['register', 'web', '--id', 'w1', '--address', '127.0.0.1:7002', '--registry', url, '--ca', pki.caPath, '--token', 'tok']);
  assert.equal(reg.code, 0, reg.stderr);
  const svc = await runMesh(['services', '--registry', url, '--ca', pki.caPath, '--json']);
  assert.equal(svc.code, 0, svc.stderr);
  assert.equal(JSON.parse(svc.stdout).services[0].service, 'web');
});

test('bad security flags: one line each', { timeout: 30_000 }, async () => {
  const empty = join(tmp.path, 'empty-token');
  writeFileSync(empty, '\n');
  const cases: [string[], number, RegExp][] = [
    [['--token-file', join(tmp.path, 'missing')], 1, /cannot read token file ".*missing": no such file/],
    [['--token-file', empty], 2, /token file ".*empty-token" is empty/],
    [['--tls-cert', join(tmp.path, 'x.pem')], 2, /--tls-cert and --tls-key go together/],
  ];
  for (const [extra, code, re] of cases) {
    const r = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'data3'), ...extra]);
    assert.equal(r.code, code, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
