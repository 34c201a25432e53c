// The registry as certificate authority, through real processes: `mesh certs ca issuer`, `mesh registry start
// --issuer`, `mesh token`, and POST /v1/identity/sign called the way a workload calls it. Chains are checked
// with real `openssl verify -untrusted`; refusals must issue nothing and be counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMesh, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { createToken, leafOf, makePki, newWorkload, opensslVerify, renewalProof, signRaw, startIdentityRegistry } from '../helpers/identity.js';

function scratch(t: { after(fn: () => void): void }): string {
  const d = tempDir('mesh-identity-');
  t.after(d.cleanup);
  return d.path;
}

test('certs ca issuer: an intermediate that openssl chains to the root, CA:TRUE pathlen 0, name-constrained to the trust domain', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir, ['issuer'], 'prod.example');
  const issuer = pki.issuers[0]!;
  assert.match(execFileSync('openssl', ['verify', '-CAfile', pki.rootCert, join(issuer, 'issuer.pem')], { encoding: 'utf8' }), /OK/);
  const text = execFileSync('openssl', ['x509', '-in', join(issuer, 'issuer.pem'), '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  assert.match(text, /Name Constraints: critical\s+Permitted:\s+URI:prod\.example/);
  // The constraint bites: a leaf for another trust domain, signed with the issuer key by hand, does not verify.
  const key = join(dir, 'rogue-key.pem');
  execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=URI:spiffe://evil.example/service/web\nbasicConstraints=critical,CA:FALSE\n');
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=web', '-out', join(dir, 'rogue.csr')]);
  execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'rogue.csr'), '-CA', join(issuer, 'issuer.pem'), '-CAkey', join(issuer, 'issuer-key.pem'), '-CAcreateserial', '-days', '1', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'rogue.pem')], { stdio: 'pipe' });
  const [code, out] = opensslVerify(dir, readFileSync(join(dir, 'rogue.pem'), 'utf8') + readFileSync(join(issuer, 'issuer.pem'), 'utf8'), pki.rootCert);
  assert.notEqual(code, 0);
  assert.match(out, /permitted subtree violation|name constraints/i);
});

test('registry start --issuer refuses an issuer directory readable by others, in one line, before opening the store', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  chmodSync(pki.issuers[0]!, 0o755);
  const r = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--issuer', pki.issuers[0]!]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /issuer directory .* is accessible to group or others \(mode 755\); refusing to use it \(run: chmod 700/);
  const r2 = await runMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--cert-ttl', '1h']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--cert-ttl needs --issuer/);
});

test('first issuance with a token: leaf → issuer → root verifies with openssl; only the SPIFFE URI of the token\'s service; extra SANs and subject ignored', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const reg = await startIdentityRegistry(t, pki.issuers[0]!, ['--cert-ttl', '1h']);
  const token = await createToken(reg.url, 'web', ['--uses', '1']);
  assert.match(token, /^[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
  // A real client: openssl makes the key and a CSR that asks for extra names; curl posts it.
  const key = join(dir, 'web-key.pem');
  execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
  const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=admin/O=evil', '-addext', 'subjectAltName=DNS:evil.example,IP:10.0.0.1'], { encoding: 'utf8' });
  const curl = spawnSync('curl', ['-s', '-w', '\n%{http_code}', '-X', 'POST', '-H', 'content-type: application/json', '--data-binary', '@-', `${reg.url}/v1/identity/sign`], { input: JSON.stringify({ csr, token }), encoding: 'utf8' });
  const [bodyText, status] = [curl.stdout.slice(0, curl.stdout.lastIndexOf('\n')), curl.stdout.slice(curl.stdout.lastIndexOf('\n') + 1)];
  assert.equal(status, '200', bodyText);
  const body = JSON.parse(bodyText) as { spiffeId: string; certificate: string; chain: string; roots: string; notAfter: string };
  assert.equal(body.spiffeId, 'spiffe://mesh.local/service/web');
  writeFileSync(join(dir, 'roots.pem'), body.roots);
  const [code, out] = opensslVerify(dir, body.chain, join(dir, 'roots.pem'));
  assert.equal(code, 0, out);
  const leaf = leafOf(body.chain);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://mesh.local/service/web');
  assert.equal(leaf.ca, false);
  assert.match(leaf.subject, /CN=web/);
  assert.doesNotMatch(leaf.subject, /evil|admin/);
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: body.certificate, encoding: 'utf8' });
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  const life = new Date(leaf.validTo).getTime() - Date.now();
  assert.ok(life > 55 * 60_000 && life <= 3_600_000, `lifetime follows --cert-ttl 1h (${life} ms left)`);
  // The key matches what openssl generated: the private key never left the client.
  assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(key))));
  // Single use: the same token again is refused and nothing is issued.
  const again = await signRaw(reg.url, { csr, token });
  assert.equal(again.status, 403);
  assert.equal(again.body.error!.code, 'MESH_ERR_TOKEN_USED_UP');
  assert.equal(again.body.certificate, undefined);
});

test('refusals: wrong secret 401, CSR for another service 403 (use not spent), malformed CSR 400, bad signature 400 — all counted, nothing issued', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const reg = await startIdentityRegistry(t, pki.issuers[0]!);
  const token = await createToken(reg.url, 'web', ['--uses', '1']);
  const w = await newWorkload();
  const wrong = await signRaw(reg.url, { csr: w.csrPem, token: `${token.slice(0, 13)}${'A'.repeat(43)}` });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error!.code, 'MESH_ERR_TOKEN_INVALID');
  const other = await newWorkload({ uri: ['spiffe://mesh.local/service/payments'] });
  const forOther = await signRaw(reg.url, { csr: other.csrPem, token });
  assert.equal(forOther.status, 403);
  assert.equal(forOther.body.error!.code, 'MESH_ERR_IDENTITY_DENIED');
  assert.match(forOther.body.error!.message, /payments.*authorises only spiffe:\/\/mesh\.local\/service\/web/);
  const extra = await newWorkload({ uri: ['spiffe://mesh.local/service/web', 'spiffe://mesh.local/service/admin'] });
  assert.equal((await signRaw(reg.url, { csr: extra.csrPem, token })).status, 403);
  const garbage = await signRaw(reg.url, { csr: '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n', token });
  assert.equal(garbage.status, 400);
  assert.equal(garbage.body.error!.code, 'MESH_ERR_CSR_INVALID');
  // A CSR whose signature was made by another key: no proof of possession.
  const a = await newWorkload();
  const der = Buffer.from(a.csrDer);
  der[der.length - 1]! ^= 0x01; // the last byte of the signature's s value: still parses, no longer verifies
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.equal((await signRaw(reg.url, { csr: tampered, token })).status, 400);
  assert.equal((await signRaw(reg.url, { csr: w.csrPem })).status, 400);
  // The refusals spent nothing: the single use still works, for the service the token names.
  const ok = await signRaw(reg.url, { csr: (await newWorkload({ uri: ['spiffe://mesh.local/service/web'] })).csrPem, token });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const metrics = await (await fetch(`${reg.url}/v1/identity/metrics`)).text();
  assert.match(metrics, /mesh_identity_certificates_issued_total\{kind="first"\} 1\n/);
  assert.match(metrics, /mesh_identity_sign_refusals_total\{code="MESH_ERR_TOKEN_INVALID"\} 1\n/);
  assert.match(metrics, /mesh_identity_sign_refusals_total\{code="MESH_ERR_IDENTITY_DENIED"\} 2\n/);
  assert.match(metrics, /mesh_identity_sign_refusals_total\{code="MESH_ERR_CSR_INVALID"\} 2\n/);
  // The daemon's one scrape target carries them too, beside the catalogue's own metrics.
  const all = await (await fetch(`${reg.url}/v1/metrics`)).text();
  assert.match(all, /^mesh_registry_watchers \d+$/m);
  assert.match(all, /^mesh_identity_certificates_issued_total\{kind="first"\} 1$/m);
  assert.match(all, /^mesh_identity_sign_refusals_total\{code="MESH_ERR_CSR_INVALID"\} 2$/m);
});

test('renewal with the old certificate; a proof by another key is refused; after revoke: no renewal, no new first certificate, issued ones still verify until expiry', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const reg = await startIdentityRegistry(t, pki.issuers[0]!, ['--cert-ttl', '30s']);
  const token = await createToken(reg.url, 'web');
  const first = await newWorkload();
  const r1 = await signRaw(reg.url, { csr: first.csrPem, token });
  assert.equal(r1.status, 200);
  const current = { chain: r1.body.chain!, keyPem: first.keyPem };
  const next = await newWorkload();
  const r2 = await signRaw(reg.url, { csr: next.csrPem, renew: renewalProof(current, next) });
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  assert.equal(r2.body.spiffeId, 'spiffe://mesh.local/service/web');
  assert.notEqual(leafOf(r2.body.chain!).serialNumber, leafOf(r1.body.chain!).serialNumber);
  // The renewed leaf is over the new key, not the old one.
  assert.ok(leafOf(r2.body.chain!).publicKey.export({ format: 'der', type: 'spki' }).equals(Buffer.from(await crypto.subtle.exportKey('spki', next.keys.publicKey))));
  // Someone with the chain but not the key cannot renew.
  const thief = await newWorkload();
  const stolen = await signRaw(reg.url, { csr: thief.csrPem, renew: renewalProof({ chain: current.chain, keyPem: thief.keyPem }, thief) });
  assert.equal(stolen.status, 401);
  assert.match(stolen.body.error!.message, /not made with the presented certificate's key/);
  // Revoke the token that authorised both.
  const id = token.split('.')[0]!;
  const rv = await runMesh(['token', 'revoke', id, '--registry', reg.url]);
  assert.equal(rv.code, 0, rv.stderr);
  const after = await newWorkload();
  const r3 = await signRaw(reg.url, { csr: after.csrPem, renew: renewalProof({ chain: r2.body.chain!, keyPem: next.keyPem }, after) });
  assert.equal(r3.status, 403);
  assert.equal(r3.body.error!.code, 'MESH_ERR_TOKEN_REVOKED');
  const r4 = await signRaw(reg.url, { csr: after.csrPem, token });
  assert.equal(r4.status, 403);
  assert.equal(r4.body.error!.code, 'MESH_ERR_TOKEN_REVOKED');
  // Documented: a certificate issued before the revocation stays valid until it expires (no CRL/OCSP).
  writeFileSync(join(dir, 'roots.pem'), r2.body.roots!);
  assert.equal(opensslVerify(dir, r2.body.chain!, join(dir, 'roots.pem'))[0], 0);
  const list = await runMesh(['token', 'list', '--registry', reg.url, '--json']);
  const tokens = JSON.parse(list.stdout) as { id: string; uses: number; revokedAt: number | null; hash?: string }[];
  assert.equal(tokens[0]!.id, id);
  assert.equal(tokens[0]!.uses, 1, 'a renewal does not spend a use');
  assert.notEqual(tokens[0]!.revokedAt, null);
  assert.equal(tokens[0]!.hash, undefined);
});

test('token brute force: after 10 wrong tokens from one address it is answered 429, even with the right token', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const reg = await startIdentityRegistry(t, pki.issuers[0]!);
  const token = await createToken(reg.url, 'web');
  const w = await newWorkload();
  const id = token.split('.')[0]!;
  for (let i = 0; i < 10; i++) {
    const r = await signRaw(reg.url, { csr: w.csrPem, token: `${id}.${String(i).padStart(43, 'x')}` });
    assert.equal(r.status, 401);
  }
  const limited = await signRaw(reg.url, { csr: w.csrPem, token });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error!.code, 'MESH_ERR_RATE_LIMITED');
});

test('tokens: admin token required to write and list, stored as hashes only, durable across a restart; sign needs no admin token', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'admin-secret-0123456789\n', { mode: 0o600 });
  const dataDir = join(dir, 'data');
  const reg = await startIdentityRegistry(t, pki.issuers[0]!, ['--token-file', tokenFile], { dataDir });
  const denied = await runMesh(['token', 'create', '--service', 'web', '--registry', reg.url]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Authorization: Bearer/);
  assert.equal((await runMesh(['token', 'list', '--registry', reg.url])).code, 1);
  const admin = { MESH_TOKEN: 'admin-secret-0123456789' };
  const token = await createToken(reg.url, 'web', [], admin);
  const secret = token.split('.')[1]!;
  assert.equal(readFileSync(join(dataDir, 'tokens.json'), 'utf8').includes(secret), false, 'the secret is never stored');
  await reg.stop();
  const again = await startIdentityRegistry(t, pki.issuers[0]!, ['--token-file', tokenFile], { dataDir });
  const list = await runMesh(['token', 'list', '--registry', again.url], { env: admin });
  assert.match(list.stdout, new RegExp(`${token.split('.')[0]}\\s+web\\s+0/∞`));
  const w = await newWorkload();
  const r = await signRaw(again.url, { csr: w.csrPem, token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('a registry without --issuer answers the identity API with 503 MESH_ERR_IDENTITY_UNAVAILABLE', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const w = await newWorkload();
  const r = await signRaw(reg.url, { csr: w.csrPem, token: 'x' });
  assert.equal(r.status, 503);
  assert.equal(r.body.error!.code, 'MESH_ERR_IDENTITY_UNAVAILABLE');
});

test('renewal over mTLS: with the registry on HTTPS, the current certificate as curl\'s client certificate renews it; an expired-era or foreign certificate does not', { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const pki = await makePki(dir);
  const gen = await runMesh(['certs', 'gen', 'registry', '--ca-dir', pki.root, '--out', join(dir, 'reg-tls')]);
  assert.equal(gen.code, 0, gen.stderr);
  const reg = await startRegistry(t, { args: ['--issuer', pki.issuers[0]!, '--tls-cert', join(dir, 'reg-tls', 'registry.pem'), '--tls-key', join(dir, 'reg-tls', 'registry-key.pem')] });
  const httpsUrl = reg.daemon.stderr().match(/listening on (https:\/\/[\d.:]+)/)![1]!;
  const post = (body: unknown, extra: string[] = []) => {
    const r = spawnSync('curl', ['-sS', '-w', '\n%{http_code}', '--cacert', pki.rootCert, ...extra, '-X', 'POST', '-H', 'content-type: application/json', '--data-binary', '@-', `${httpsUrl}/v1/identity/sign`], { input: JSON.stringify(body), encoding: 'utf8' });
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: JSON.parse(r.stdout.slice(0, i)) as { chain?: string; spiffeId?: string; error?: { code: string } }, stderr: r.stderr };
  };
  const tokenR = await runMesh(['token', 'create', '--service', 'web', '--registry', httpsUrl, '--ca', pki.rootCert]);
  assert.equal(tokenR.code, 0, tokenR.stderr);
  const first = await newWorkload();
  const r1 = post({ csr: first.csrPem, token: tokenR.stdout.trim() });
  assert.equal(r1.status, 200, r1.stderr);
  writeFileSync(join(dir, 'web.pem'), r1.body.chain!);
  writeFileSync(join(dir, 'web-key.pem'), first.keyPem, { mode: 0o600 });
  const next = await newWorkload();
  const r2 = post({ csr: next.csrPem }, ['--cert', join(dir, 'web.pem'), '--key', join(dir, 'web-key.pem')]);
  assert.equal(r2.status, 200, JSON.stringify(r2.body) + r2.stderr);
  assert.equal(r2.body.spiffeId, 'spiffe://mesh.local/service/web');
  // No client certificate and neither token nor proof: nothing to go on.
  assert.equal(post({ csr: next.csrPem }).status, 400);
  // The registry's own serving certificate is signed by the root but names no bootstrap token: refused.
  const foreign = post({ csr: next.csrPem }, ['--cert', join(dir, 'reg-tls', 'registry.pem'), '--key', join(dir, 'reg-tls', 'registry-key.pem')]);
  assert.equal(foreign.status, 401);
  assert.equal(foreign.body.error!.code, 'MESH_ERR_UNAUTHORIZED');
});
