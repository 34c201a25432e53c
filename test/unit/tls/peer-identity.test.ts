// What makes a CA-signed certificate a mesh identity (peer-identity.ts), against real certificates: the mesh's
// own, and ones minted with the openssl CLI that `mesh certs gen` would never issue. The DER reader under it is
// checked against @peculiar/x509 as an independent decoder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as px from '@peculiar/x509';
import { readCertExtensions } from '../../../src/tls/cert-extensions.js';
import { loadTlsMaterial } from '../../../src/tls/context.js';
import { checkIdentity, serverIdentityCheck, type IdentityRules } from '../../../src/tls/peer-identity.js';
import { trustDomainOfCa } from '../../../src/tls/spiffe.js';
import { mintCaWithOpenssl, mintWithOpenssl, type OpensslCertSpec } from '../../helpers/openssl-certs.js';
import { tempDir } from '../../helpers/mesh.js';
import { makePki, type TestPki } from './pki.js';

const WEB = 'spiffe://mesh.local/service/web';
const BOTH: IdentityRules = { trustDomain: 'mesh.local', roles: ['server', 'client'] };

let tmp: ReturnType<typeof tempDir>;
let mesh: TestPki;
let rsa: TestPki;
let signer: { cert: string; key: string };
const odd: Record<string, { cert: string; key: string; ca: string }> = {};

const SPECS: Record<string, OpensslCertSpec> = {
  caTrue: { san: [`URI:${WEB}`], ca: true, keyUsage: 'critical,digitalSignature,keyCertSign' },
  twoUris: { san: [`URI:${WEB}`, 'URI:spiffe://mesh.local/service/admin'] },
  noUri: { san: ['DNS:localhost', 'IP:127.0.0.1'] },
  httpUri: { san: ['URI:https://mesh.local/service/web'] },
  foreign: { san: ['URI:spiffe://other.test/service/web'] },
  serverOnly: { san: [`URI:${WEB}`], extKeyUsage: 'serverAuth' },
  clientOnly: { san: [`URI:${WEB}`], extKeyUsage: 'clientAuth' },
  noEku: { san: [`URI:${WEB}`], extKeyUsage: null },
  keyAgreementOnly: { san: [`URI:${WEB}`], keyUsage: 'critical,keyAgreement' },
  signsCerts: { san: [`URI:${WEB}`], keyUsage: 'critical,digitalSignature,keyCertSign' },
  otherPath: { san: ['URI:spiffe://mesh.local/ns/prod/sa/web', 'DNS:web'] },
};

before(async () => {
  tmp = tempDir('mesh-identity-');
  mesh = await makePki(tmp.path, 'mesh');
  rsa = await makePki(tmp.path, 'rsa', { keyType: 'rsa' });
  signer = { cert: mesh.caPath, key: join(mesh.ca.dir, 'ca-key.pem') };
  for (const [name, spec] of Object.entries(SPECS)) odd[name] = mintWithOpenssl(join(tmp.path, 'odd'), name, signer, spec);
});
after(() => tmp.cleanup());

const der = (file: string) => new X509Certificate(readFileSync(file)).raw;

test('the DER reader agrees with @peculiar/x509 on mesh certificates and openssl-minted ones', async () => {
  const files = [mesh.caPath, rsa.caPath, (await mesh.leaf('web')).cert, (await rsa.leaf('web')).cert, ...Object.values(odd).map((o) => o.cert)];
  for (const file of files) {
    const mine = readCertExtensions(der(file));
    const p = new px.X509Certificate(readFileSync(file, 'utf8'));
    const bc = p.getExtension(px.BasicConstraintsExtension);
    assert.equal(mine.ca, bc?.ca === true, file);
    const uris = (p.getExtension(px.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
    assert.deepEqual(mine.uris, uris, file);
    const ku = p.getExtension(px.KeyUsagesExtension);
    const names = Object.entries(px.KeyUsageFlags).filter(([k, v]) => typeof v === 'number' && isNaN(Number(k)) && ku !== null && (ku.usages & v) !== 0).map(([k]) => k);
    assert.deepEqual(mine.keyUsage === null ? null : [...mine.keyUsage].sort(), ku === null ? null : names.sort(), file);
    const eku = p.getExtension(px.ExtendedKeyUsageExtension);
    assert.deepEqual(mine.extKeyUsage, eku === null ? null : Array.from(eku.usages, String), file);
  }
});

test('a mesh leaf is an identity; every openssl-minted misfit is refused with its code and reason', async () => {
  const good = checkIdentity(der((await mesh.leaf('web')).cert), BOTH);
  assert.deepEqual(good, { ok: true, id: WEB, trustDomain: 'mesh.local', service: 'web' });
  const cases: [string, string, RegExp][] = [
    ['caTrue', 'IDENTITY_CA_CERTIFICATE', /^it is a CA certificate \(basicConstraints CA:TRUE\), not an end-entity certificate$/],
    ['twoUris', 'IDENTITY_SEVERAL_URI_SANS', /^it carries 2 URI SANs \(spiffe:\/\/mesh.local\/service\/web, spiffe:\/\/mesh.local\/service\/admin\); a mesh identity has exactly one$/],
    ['noUri', 'IDENTITY_NO_SPIFFE_ID', /^it carries no SPIFFE ID \(no URI SAN\)$/],
    ['httpUri', 'IDENTITY_BAD_SPIFFE_ID', /^its URI SAN is not a valid SPIFFE ID \(invalid SPIFFE ID "https:\/\/mesh.local\/service\/web": it must start with spiffe:\/\/\)$/],
    ['foreign', 'IDENTITY_FOREIGN_TRUST_DOMAIN', /^its SPIFFE ID spiffe:\/\/other.test\/service\/web is in trust domain other.test, not the mesh's mesh.local$/],
    ['serverOnly', 'IDENTITY_EXT_KEY_USAGE', /^its extKeyUsage \(serverAuth\) lacks clientAuth, which a TLS client needs$/],
    ['clientOnly', 'IDENTITY_EXT_KEY_USAGE', /^its extKeyUsage \(clientAuth\) lacks serverAuth, which a TLS server needs$/],
    ['keyAgreementOnly', 'IDENTITY_KEY_USAGE', /^its keyUsage \(keyAgreement\) lacks digitalSignature$/],
    ['signsCerts', 'IDENTITY_KEY_USAGE', /^its keyUsage allows keyCertSign, which only a CA may have$/],
  ];
  for (const [name, code, reason] of cases) {
    const v = checkIdentity(der(odd[name]!.cert), BOTH);
    assert.equal(v.ok, false, name);
    if (v.ok) continue;
    assert.equal(v.code, code, name);
    assert.match(v.reason, reason, name);
  }
});

test('usages follow the role asked for; no extKeyUsage allows any; an ID outside /service/ has no service name', () => {
  assert.equal(checkIdentity(der(odd.serverOnly!.cert), { trustDomain: 'mesh.local', roles: ['server'] }).ok, true);
  assert.equal(checkIdentity(der(odd.clientOnly!.cert), { trustDomain: 'mesh.local', roles: ['client'] }).ok, true);
  assert.equal(checkIdentity(der(odd.noEku!.cert), BOTH).ok, true);
  assert.deepEqual(checkIdentity(der(odd.otherPath!.cert), BOTH), { ok: true, id: 'spiffe://mesh.local/ns/prod/sa/web', trustDomain: 'mesh.local', service: null });
  // Without a known trust domain (mesh check without --ca-dir) only the trust domain goes unchecked.
  assert.equal(checkIdentity(der(odd.foreign!.cert), { trustDomain: undefined, roles: ['client'] }).ok, true);
  assert.equal(checkIdentity(der(odd.caTrue!.cert), { trustDomain: undefined, roles: ['client'] }).ok, false);
  const v = checkIdentity(der(odd.otherPath!.cert), { ...BOTH, expected: WEB });
  assert.deepEqual(v, { ok: false, code: 'IDENTITY_MISMATCH', reason: `it is spiffe://mesh.local/ns/prod/sa/web, not the expected ${WEB}` });
  assert.deepEqual(checkIdentity(Buffer.from([0x30, 0x03, 0x02, 0x01]), BOTH), { ok: false, code: 'IDENTITY_UNREADABLE', reason: 'its extensions cannot be read (DER length past its container)' });
});

test('the server identity check used by undici and node:http2 returns an error carrying the code and reason', () => {
  const check = serverIdentityCheck({ trustDomain: 'mesh.local', roles: ['server'], expected: 'spiffe://mesh.local/service/orders' });
  const peer = (file: string) => ({ raw: der(file) }) as unknown as import('node:tls').PeerCertificate;
  const err = check('127.0.0.1', peer(odd.caTrue!.cert)) as Error & { code?: string; identity?: string; reason?: string };
  assert.equal(err.code, 'ERR_MESH_PEER_IDENTITY');
  assert.equal(err.identity, 'IDENTITY_CA_CERTIFICATE');
  assert.equal(err.message, `server certificate refused: ${err.reason}`);
  assert.match(String((check('orders', peer(odd.clientOnly!.cert)) as Error).message), /it is spiffe:\/\/mesh.local\/service\/web, not the expected/);
});

test('a CA names its trust domain by URI SAN (mesh certs ca init), or by common name (older mesh CAs); another tool\'s CA names none', () => {
  assert.equal(trustDomainOfCa(new X509Certificate(readFileSync(mesh.caPath))), 'mesh.local');
  const legacy = mintCaWithOpenssl(join(tmp.path, 'cas'), 'legacy', '/CN=mesh root CA (legacy.test)/O=mesh');
  assert.equal(trustDomainOfCa(new X509Certificate(readFileSync(legacy.cert))), 'legacy.test');
  const foreignTool = mintCaWithOpenssl(join(tmp.path, 'cas'), 'tool', '/CN=Example Root CA');
  assert.equal(trustDomainOfCa(new X509Certificate(readFileSync(foreignTool.cert))), null);
});

test('loadTlsMaterial takes only a mesh identity as its own certificate, in its CA\'s trust domain', () => {
  for (const [name, re] of [
    ['caTrue', /certificate ".*caTrue.pem" is not a usable mesh identity: it is a CA certificate/],
    ['twoUris', /is not a usable mesh identity: it carries 2 URI SANs/],
    ['foreign', /is not a usable mesh identity: its SPIFFE ID spiffe:\/\/other.test\/service\/web is in trust domain other.test, not the mesh's mesh.local/],
    ['serverOnly', /lacks clientAuth/],
  ] as const) {
    assert.throws(() => loadTlsMaterial(odd[name]!), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'MESH_ERR_TLS', name);
      assert.match(err.message, re, name);
      if (name === 'foreign') assert.match(err.hint!, /issues identities in mesh.local/);
      return true;
    });
  }
  assert.equal(loadTlsMaterial(odd.serverOnly!, { roles: ['server'] }).spiffeId, WEB, 'a server-only certificate serves');
  // A CA that names no trust domain: the certificate's own is taken, with a warning that it cannot be checked.
  const tool = mintCaWithOpenssl(join(tmp.path, 'cas'), 'tool2', '/CN=Example Root CA');
  const m = loadTlsMaterial(mintWithOpenssl(join(tmp.path, 'tool-leaves'), 'web', tool, { san: ['URI:spiffe://corp.example/service/web'] }));
  assert.equal(m.trustDomain, 'corp.example');
  assert.match(m.warnings.join('\n'), /names no trust domain, so callers and servers are held to this certificate's, corp.example/);
});
