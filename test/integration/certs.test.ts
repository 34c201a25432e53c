// `mesh certs` through the real bin/mesh, checked with real OpenSSL: the chain verifies, the extensions are what
// a CA and a mesh leaf must carry, keys are private, and bad input is one line with the right exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMesh, tempDir } from '../helpers/mesh.js';

let tmp: ReturnType<typeof tempDir>;
let caDir: string;
let certs: string;
before(() => { tmp = tempDir('mesh-certs-'); caDir = join(tmp.path, 'ca'); certs = join(tmp.path, 'certs'); });
after(() => tmp.cleanup());

const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
const x509Text = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${stderr}`);
  return lines[0]!;
}

test('ca init writes a CA that OpenSSL reads as a CA, with a 0600 key', { timeout: 30_000 }, async () => {
  const r = await runMesh(['certs', 'ca', 'init', '--dir', caDir, '--trust-domain', 'example.test']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Created a mesh CA for trust domain example.test/);
  assert.equal(statSync(join(caDir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(join(caDir, 'ca.pem')).mode & 0o777, 0o644);
  const text = x509Text(join(caDir, 'ca.pem'));
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /ASN1 OID: prime256v1/);
  // It names its trust domain, so a sidecar holding only ca.pem can refuse identities of another one.
  assert.match(text, /Subject Alternative Name:\s+URI:spiffe:\/\/example\.test\n/);
});

test('ca init refuses to overwrite without --force, and replaces with it', { timeout: 30_000 }, async () => {
  const dir = join(tmp.path, 'ca2');
  assert.equal((await runMesh(['certs', 'ca', 'init', '--dir', dir])).code, 0);
  const before = execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-fingerprint'], { encoding: 'utf8' });
  const again = await runMesh(['certs', 'ca', 'init', '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(oneLine(again.stderr), /^mesh: a CA already exists in .*ca2; refusing to overwrite it .*pass --force/);
  assert.equal(execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-fingerprint'], { encoding: 'utf8' }), before);
  const forced = await runMesh(['certs', 'ca', 'init', '--dir', dir, '--force', '--key-type', 'rsa', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(forced.stdout).keyType, 'rsa');
  assert.match(x509Text(join(dir, 'ca.pem')), /Public-Key: \(2048 bit\)/);
});

test('gen issues a leaf that verifies against the CA and carries the SPIFFE ID, usages and SANs', { timeout: 30_000 }, async () => {
  const r = await runMesh(['certs', 'gen', 'orders', '--ca-dir', caDir, '--out', certs, '--dns', 'orders.internal', '--ip', '10.0.0.7']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Issued spiffe:\/\/example.test\/service\/orders/);
  const leaf = join(certs, 'orders.pem');
  assert.equal(statSync(join(certs, 'orders-key.pem')).mode & 0o777, 0o600);
  const verify = openssl('verify', '-CAfile', join(caDir, 'ca.pem'), leaf);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /orders.pem: OK/);
  // the leaf is good for both ends of mTLS
  assert.equal(openssl('verify', '-purpose', 'sslserver', '-CAfile', join(caDir, 'ca.pem'), leaf).status, 0);
  assert.equal(openssl('verify', '-purpose', 'sslclient', '-CAfile', join(caDir, 'ca.pem'), leaf).status, 0);
  const text = x509Text(leaf);
  assert.match(text, /URI:spiffe:\/\/example.test\/service\/orders/);
  assert.match(text, /DNS:orders, DNS:localhost, DNS:orders.internal/);
  assert.match(text, /IP Address:127.0.0.1/);
  assert.match(text, /IP Address:10.0.0.7/);
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  // the key matches the certificate
  const certPub = execFileSync('openssl', ['x509', '-in', leaf, '-noout', '-pubkey'], { encoding: 'utf8' });
  const keyPub = execFileSync('openssl', ['pkey', '-in', join(certs, 'orders-key.pem'), '-pubout'], { encoding: 'utf8' });
  assert.equal(certPub, keyPub);
  // default lifetime: 24 hours (plus the one-minute backdate)
  const end = execFileSync('openssl', ['x509', '-in', leaf, '-noout', '-checkend', String(23 * 3600)], { encoding: 'utf8' });
  assert.match(end, /will not expire/);
  assert.notEqual(openssl('x509', '-in', leaf, '-noout', '-checkend', String(25 * 3600)).status, 0);
});

test('a leaf from another CA fails to verify against this one', { timeout: 30_000 }, async () => {
  const otherCa = join(tmp.path, 'other-ca');
  assert.equal((await runMesh(['certs', 'ca', 'init', '--dir', otherCa, '--trust-domain', 'example.test'])).code, 0);
  assert.equal((await runMesh(['certs', 'gen', 'orders', '--ca-dir', otherCa, '--out', join(tmp.path, 'other')])).code, 0);
  const verify = openssl('verify', '-CAfile', join(caDir, 'ca.pem'), join(tmp.path, 'other', 'orders.pem'));
  assert.notEqual(verify.status, 0);
  assert.match(verify.stderr + verify.stdout, /signature failure|unable to get local issuer/i);
});

test('inspect --json shows the SPIFFE ID, validity and key; the table shows the same', { timeout: 30_000 }, async () => {
  const r = await runMesh(['certs', 'inspect', join(certs, 'orders.pem'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.spiffeId, 'spiffe://example.test/service/orders');
  assert.equal(report.kind, 'leaf');
  assert.equal(report.status, 'valid');
  assert.deepEqual(report.key, { type: 'ec', curve: 'P-256' });
  assert.ok(report.remainingSeconds > 23 * 3600 && report.remainingSeconds <= 24 * 3600, String(report.remainingSeconds));
  const serial = execFileSync('openssl', ['x509', '-in', join(certs, 'orders.pem'), '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1]!;
  assert.equal(report.serial, serial.toLowerCase());
  const table = await runMesh(['certs', 'inspect', join(certs, 'orders.pem')]);
  assert.match(table.stdout, /^SPIFFE ID\s+spiffe:\/\/example.test\/service\/orders$/m);
  assert.match(table.stdout, new RegExp(`^SERIAL\\s+${report.serial}$`, 'm'));
  const ca = JSON.parse((await runMesh(['certs', 'inspect', join(caDir, 'ca.pem'), '--json'])).stdout);
  assert.equal(ca.kind, 'ca');
});

test('gen --hours, --days and --self-signed', { timeout: 30_000 }, async () => {
  const r = await runMesh(['certs', 'gen', 'web', '--ca-dir', caDir, '--out', certs, '--hours', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout);
  assert.equal(Date.parse(v.notAfter) - Date.parse(v.notBefore), 2 * 3600_000 + 60_000);
  const ss = await runMesh(['certs', 'gen', 'dev-api', '--self-signed', '--out', join(tmp.path, 'ss')]);
  assert.equal(ss.code, 0, ss.stderr);
  const file = join(tmp.path, 'ss', 'dev-api.pem');
  assert.equal(openssl('verify', '-CAfile', file, file).status, 0, 'a self-signed certificate verifies against itself');
  assert.doesNotMatch(x509Text(file), /URI:spiffe/);
});

test('bad input: one line, exit 2 for usage, exit 1 for unusable files', { timeout: 30_000 }, async () => {
  const junk = join(tmp.path, 'junk.pem');
  writeFileSync(junk, 'not a certificate');
  const cases: [string[], number, RegExp][] = [
    [['certs', 'inspect', join(tmp.path, 'missing.pem')], 1, /^mesh: cannot read certificate ".*missing.pem": no such file or directory/],
    [['certs', 'inspect', junk], 1, /^mesh: certificate ".*junk.pem" holds no PEM certificate/],
    [['certs', 'gen', 'orders', '--ca-dir', join(tmp.path, 'nowhere')], 1, /^mesh: no mesh CA in .*nowhere \(create one with `mesh certs ca init/],
    [['certs', 'gen', 'Orders!', '--ca-dir', caDir], 2, /^mesh: <service>: invalid service name "Orders!"/],
    [['certs', 'gen', 'x', '--ca-dir', caDir, '--days', '1', '--hours', '1'], 2, /cannot be used with option/],
    [['certs', 'gen', 'x', '--ca-dir', caDir, '--ip', '300.1.1.1'], 2, /^mesh: --ip: invalid IP address "300.1.1.1"/],
    [['certs', 'gen', 'x', '--ca-dir', caDir, '--days', '0'], 2, /^mesh: --days: invalid value "0"/],
    [['certs', 'ca', 'init', '--dir', join(tmp.path, 'ca3'), '--trust-domain', 'Not Valid'], 2, /^mesh: --trust-domain: invalid trust domain/],
    [['certs', 'ca', 'init', '--dir', join(tmp.path, 'ca3'), '--key-type', 'dsa'], 2, /Allowed choices are ec, rsa/],
  ];
  for (const [args, code, re] of cases) {
    const r = await runMesh(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), re, args.join(' '));
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
});

test('a CA key readable by others is refused; a corrupt CA key is one line', { timeout: 30_000 }, async () => {
  const dir = join(tmp.path, 'loose');
  assert.equal((await runMesh(['certs', 'ca', 'init', '--dir', dir])).code, 0);
  chmodSync(join(dir, 'ca-key.pem'), 0o644);
  const r = await runMesh(['certs', 'gen', 'orders', '--ca-dir', dir, '--out', join(tmp.path, 'loose-out')]);
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /CA key ".*ca-key.pem" is readable by group or others \(mode 644\); refusing to use it \(run: chmod 600 /);
  chmodSync(join(dir, 'ca-key.pem'), 0o600);
  writeFileSync(join(dir, 'ca-key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  const c = await runMesh(['certs', 'gen', 'orders', '--ca-dir', dir, '--out', join(tmp.path, 'loose-out')]);
  assert.equal(c.code, 1);
  assert.match(oneLine(c.stderr), /CA key ".*ca-key.pem" is corrupt/);
});

test('authz test prints the decision and the rule; exit 0 either way, --expect turns a mismatch into exit 1', { timeout: 30_000 }, async () => {
  const policy = join(tmp.path, 'policy.yaml');
  writeFileSync(policy, 'services:\n  orders:\n    deny:\n      - {name: no-admin, from: "*", paths: [/admin]}\n    allow:\n      - {name: web-reads, from: web, methods: [GET]}\n');
  const allowed = await runMesh(['authz', 'test', '--policy', policy, '--from', 'web', '--to', 'orders', 'GET', '/orders/1']);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout, 'ALLOW  web -> orders  GET /orders/1  by services.orders.allow[0] "web-reads"\n');
  const denied = await runMesh(['authz', 'test', '--policy', policy, '--from', 'web', '--to', 'orders', 'GET', '/x/%2e%2e/admin', '--json']);
  assert.equal(denied.code, 0);
  assert.deepEqual(
    (({ allowed: a, rule, normalizedPath }) => ({ a, rule, normalizedPath }))(JSON.parse(denied.stdout)),
    { a: false, rule: 'services.orders.deny[0] "no-admin"', normalizedPath: '/admin' },
  );
  const expect = await runMesh(['authz', 'test', '--policy', policy, '--from', 'billing', '--to', 'orders', 'GET', '/', '--expect', 'allow']);
  assert.equal(expect.code, 1);
  assert.match(oneLine(expect.stderr), /expected allow but the policy says deny \(default-deny for orders\)/);
  const none = await runMesh(['authz', 'test', '--from', 'web', '--to', 'orders', 'DELETE', '/']);
  assert.match(none.stdout, /^ALLOW .* by no policy: allow all$/m);
  const bad = await runMesh(['authz', 'test', '--policy', join(tmp.path, 'nope.yaml'), '--from', 'web', '--to', 'orders', 'GET', '/']);
  assert.equal(bad.code, 1);
  assert.match(oneLine(bad.stderr), /cannot read policy ".*nope.yaml": no such file/);
  const usage = await runMesh(['authz', 'test', '--from', 'web', 'GET', '/']);
  assert.equal(usage.code, 2);
});
