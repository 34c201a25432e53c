// A chain file (leaf + issuer, as the registry issues them) with the root as CA file: it loads, and a TLS
// server and client built from such files complete an mTLS handshake with the chain sent and verified against
// the root alone, and the leaf is a mesh identity of the root's trust domain. Files holding just a leaf signed by the root keep working as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { clientTlsOptions, loadTlsMaterial, serverTlsOptions, type TlsFilePaths } from '../../../src/tls/context.js';
import { createIssuer, loadIssuer } from '../../../src/tls/issuer.js';
import { LeafSigner } from '../../../src/registry/identity/signer.js';
import { checkIdentity } from '../../../src/tls/peer-identity.js';
import { tempDir } from '../../helpers/mesh.js';
import { makePki } from './pki.js';

async function chainFiles(dir: string, signer: LeafSigner, service: string, rootPath: string): Promise<TlsFilePaths> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const leaf = await signer.sign({ service, publicKey, publicKeyDer: der, tokenId: '0123456789ab', ttlMs: 3_600_000, now: Date.now() });
  const cert = join(dir, `${service}.pem`);
  const key = join(dir, `${service}-key.pem`);
  writeFileSync(cert, leaf.chainPem);
  writeFileSync(key, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  return { cert, key, ca: rootPath };
}

test('chained certificate files (leaf → issuer) load against the root and complete an mTLS handshake', { timeout: 30_000 }, async (t) => {
  const tmp = tempDir('mesh-chain-');
  t.after(tmp.cleanup);
  const pki = await makePki(tmp.path, 'root');
  await createIssuer(pki.ca, { out: join(tmp.path, 'issuer'), days: 30, force: false });
  const signer = await LeafSigner.create(loadIssuer(join(tmp.path, 'issuer')));
  const orders = loadTlsMaterial(await chainFiles(tmp.path, signer, 'orders', pki.caPath), { expectSpiffeId: 'spiffe://mesh.local/service/orders' });
  const web = loadTlsMaterial(await chainFiles(tmp.path, signer, 'web', pki.caPath));
  // The chain's trust domain is the one its root names (the issuer is in the same one): an issuer-chained leaf
  // passes the identity rules (peer-identity.ts) on both sides, as a caller and as a server.
  assert.equal(orders.trustDomain, 'mesh.local');
  assert.equal(web.trustDomain, 'mesh.local');
  const server = createServer(serverTlsOptions(orders), (s: TLSSocket) => {
    const verdict = checkIdentity(s.getPeerCertificate().raw, { trustDomain: orders.trustDomain, roles: ['client'] });
    s.end(verdict.ok ? verdict.id : `refused: ${verdict.reason}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const seen = await new Promise<string>((resolve, reject) => {
    const c = connect({ ...clientTlsOptions(web, 'spiffe://mesh.local/service/orders'), host: '127.0.0.1', port });
    let out = '';
    c.setEncoding('utf8').on('data', (d: string) => { out += d; }).on('end', () => resolve(out)).on('error', reject);
  });
  assert.equal(seen, 'spiffe://mesh.local/service/web');
  // A leaf straight from the root, as `mesh certs gen` writes it, still loads.
  assert.equal(loadTlsMaterial(await pki.leaf('billing')).spiffeId, 'spiffe://mesh.local/service/billing');
});
