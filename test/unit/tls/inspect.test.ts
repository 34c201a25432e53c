// inspect's report: identity, names, usages, and the status and warnings as time passes. The table renderer
// is checked against the same value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeCertificate, formatSeconds, inspectCertificateFile } from '../../../src/tls/inspect.js';
import { renderInspectTable } from '../../../src/cli/render/certs.js';
import { tempDir } from '../../helpers/mesh.js';
import { makePki, type TestPki } from './pki.js';

let tmp: ReturnType<typeof tempDir>;
let pki: TestPki;
before(async () => { tmp = tempDir(); pki = await makePki(tmp.path, 'ca', { keyType: 'rsa' }); });
after(() => tmp.cleanup());

test('a leaf: SPIFFE ID, SANs, usages, key type of an RSA mesh', async () => {
  const p = await pki.leaf('orders', { dns: ['orders.internal'], ip: ['10.1.2.3'] });
  const r = inspectCertificateFile(p.cert);
  assert.equal(r.kind, 'leaf');
  assert.equal(r.spiffeId, 'spiffe://mesh.local/service/orders');
  assert.deepEqual(r.sans.uri, ['spiffe://mesh.local/service/orders']);
  assert.deepEqual(r.sans.dns, ['orders', 'localhost', 'orders.internal']);
  assert.deepEqual(r.sans.ip, ['127.0.0.1', '::1', '10.1.2.3']);
  assert.deepEqual(r.keyUsage, ['digitalSignature', 'keyEncipherment']);
  assert.deepEqual(r.extKeyUsage, ['serverAuth', 'clientAuth']);
  assert.deepEqual(r.key, { type: 'rsa', bits: 2048 });
  assert.match(r.issuer, /mesh root CA \(mesh.local\)/);
  assert.equal(r.status, 'valid');
});

test('the CA: kind ca, self-signed, certificate-signing usages', () => {
  const r = inspectCertificateFile(pki.caPath);
  assert.equal(r.kind, 'ca');
  assert.equal(r.selfSigned, true);
  assert.deepEqual(r.keyUsage, ['keyCertSign', 'cRLSign']);
  // The CA names its trust domain (a trust domain SPIFFE ID), so a sidecar holding only ca.pem knows it.
  assert.equal(r.spiffeId, 'spiffe://mesh.local');
});

test('status and warnings follow the clock: a third of the lifetime left warns', async () => {
  const p = await pki.leaf('web', { out: 'w' });
  const cert = new X509Certificate(readFileSync(p.cert));
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  const at = (f: number) => describeCertificate(cert, p.cert, from + (to - from) * f);
  assert.equal(at(0.5).status, 'valid');
  assert.deepEqual(at(0.5).warnings, []);
  assert.equal(at(0.7).status, 'expiring');
  assert.match(at(0.7).warnings[0]!, /less than a third of its lifetime is left/);
  assert.equal(at(1.1).status, 'expired');
  assert.match(at(1.1).warnings[0]!, /^expired /);
  assert.equal(describeCertificate(cert, p.cert, from - 1000).status, 'not-yet-valid');
  const table = renderInspectTable(at(0.7), { color: false });
  assert.match(table, /^SPIFFE ID\s+spiffe:\/\/mesh.local\/service\/web$/m);
  assert.match(table, /^TIME LEFT\s+.*\(expiring soon\)$/m);
  assert.match(table, /^WARNING\s+less than a third/m);
  assert.doesNotMatch(table, /\u001b\[/, 'no colour codes when colour is off');
});

test('formatSeconds', () => {
  assert.deepEqual([59, 61, 3600 * 23 + 59 * 60, 86_400 * 3 + 3600, -7200].map(formatSeconds), ['59s', '1m1s', '23h59m', '3d1h', '-2h0m']);
});
