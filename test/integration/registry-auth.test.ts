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

test('a client without the registry\'s CA is told the certificate is not trusted and to pass --ca or MESH_CA, not that the registry is down', { timeout: 30_000 }, async (t) => {
  const cert = await pki.leaf('registry', { out: 'untrusted' });
  const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'data4'), '--tls-cert', cert.cert, '--tls-key', cert.key]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const url = (await d.waitFor(/listening on (https:\/\/[\d.:]+)/))[1]!;
  const other = await makePki(tmp.path, 'other');
  const cases: [string[], RegExp][] = [
    [[], /^mesh: the registry's certificate at https:\/\/127\.0\.0\.1:\d+ is not trusted \([A-Z_]+, and no --ca was given\) \(pass --ca <file> or set MESH_CA to the CA certificate that signed it/],
    [['--ca', other.caPath], /^mesh: the registry's certificate at https:\/\/127\.0\.0\.1:\d+ is not trusted \([A-Z_]+: not issued by the CA in .*other\/ca\.pem\) \(pass --ca <file> or set MESH_CA/],
  ];
  for (const [extra, re] of cases) {
    const r = await runMesh(['services', '--registry', url, ...extra]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
    assert.doesNotMatch(r.stderr, /unreachable|mesh registry start/);
  }
  // The code is stable for scripts (--json errors carry it), and MESH_CA is the fix the message names.
  const json = await runMesh(['check', '--registry', url, '--proxy', 'http://127.0.0.1:1', '--json']);
  const reg = (JSON.parse(json.stdout) as { checks: { check: string; detail: string; hint?: string }[] }).checks.find((c) => c.check === 'registry')!;
  assert.match(reg.detail, /is not trusted/);
  assert.match(reg.hint!, /--ca <file> or set MESH_CA/);
  const fixed = await runMesh(['services', '--registry', url], { env: { MESH_CA: pki.caPath } });
  assert.equal(fixed.code, 0, fixed.stderr);
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
