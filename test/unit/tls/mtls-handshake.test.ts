// Real mTLS handshakes on loopback between a server built from serverTlsOptions and clients built from
// clientTlsOptions: the right identity passes; every wrong one is refused at the handshake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type ConnectionOptions, type Server, type TLSSocket } from 'node:tls';
import { clientTlsOptions, loadTlsMaterial, serverTlsOptions, type TlsFilePaths } from '../../../src/tls/context.js';
import { serverIdentityCheck } from '../../../src/tls/peer-identity.js';
import { spiffeIdOf } from '../../../src/tls/spiffe.js';
import { tempDir } from '../../helpers/mesh.js';
import { makePki, type TestPki } from './pki.js';

const ORDERS = 'spiffe://mesh.local/service/orders';
const WEB = 'spiffe://mesh.local/service/web';

let tmp: ReturnType<typeof tempDir>;
let mesh: TestPki;
let other: TestPki;
let files: Record<string, TlsFilePaths>;

before(async () => {
  tmp = tempDir('mesh-mtls-');
  mesh = await makePki(tmp.path, 'mesh');
  other = await makePki(tmp.path, 'other');
  const now = Date.now();
  files = {
    orders: await mesh.leaf('orders'),
    web: await mesh.leaf('web'),
    billing: await mesh.leaf('billing'),
    otherWeb: await other.leaf('web'),
    otherOrders: await other.leaf('orders'),
    expiredWeb: await mesh.leaf('web', { out: 'expired', notBefore: new Date(now - 2 * 86_400_000), notAfter: new Date(now - 86_400_000) }),
    futureWeb: await mesh.leaf('web', { out: 'future', notBefore: new Date(now + 86_400_000), notAfter: new Date(now + 2 * 86_400_000) }),
    expiredOrders: await mesh.leaf('orders', { out: 'expired', notBefore: new Date(now - 2 * 86_400_000), notAfter: new Date(now - 86_400_000) }),
  };
});
after(() => tmp.cleanup());

/** Raw options from files, skipping loadTlsMaterial's own checks, so a bad certificate reaches the handshake. */
function raw(p: TlsFilePaths, caPath = mesh.caPath): { cert: string; key: string; ca: string } {
  return { cert: readFileSync(p.cert, 'utf8'), key: readFileSync(p.key, 'utf8'), ca: readFileSync(caPath, 'utf8') };
}

interface Outcome { ok: boolean; serverSaw?: string | null; clientError?: string; serverError?: string }

async function handshake(serverFiles: TlsFilePaths | { cert: string; key: string; ca: string }, clientOpts: ConnectionOptions, rawServer = false): Promise<Outcome> {
  const serverOpts = rawServer ? { ...(serverFiles as object), requestCert: true, rejectUnauthorized: true } : serverTlsOptions(loadTlsMaterial(serverFiles as TlsFilePaths));
  const server: Server = createServer(serverOpts, (sock: TLSSocket) => { sock.end(`id=${sock.authorized ? spiffeIdOf(sock.getPeerCertificate()) : null}`); });
  let serverError: string | undefined;
  // Node refuses a bad client certificate by destroying the socket right after the handshake; the reason is
  // left on the TLSSocket that tlsClientError passes along.
  server.on('tlsClientError', (err, sock) => { serverError = `${String(sock.authorizationError ?? '')} ${err.message}`; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Outcome>((resolve) => {
      let data = '';
      let clientError: string | undefined;
      const sock = connect({ host: '127.0.0.1', port, ...clientOpts });
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => { data += d; });
      sock.on('error', (err) => { clientError = err.message; });
      sock.on('close', () => {
        const m = /^id=(.*)$/.exec(data);
        resolve({
          ok: m !== null,
          ...(m ? { serverSaw: m[1] === 'null' ? null : m[1] } : {}),
          ...(clientError ? { clientError } : {}),
          ...(serverError ? { serverError } : {}),
        });
      });
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const web = () => clientTlsOptions(loadTlsMaterial(files.web!), ORDERS);

test('a mesh client with the expected server identity completes mTLS; the server sees its SPIFFE ID', { timeout: 20_000 }, async () => {
  const out = await handshake(files.orders!, web());
  assert.equal(out.ok, true, JSON.stringify(out));
  assert.equal(out.serverSaw, WEB);
});

test('a valid mesh certificate of another service is refused by the client (wrong SPIFFE ID)', { timeout: 20_000 }, async () => {
  const out = await handshake(files.billing!, web());
  assert.equal(out.ok, false);
  assert.match(out.clientError ?? '', /server certificate refused: it is spiffe:\/\/mesh\.local\/service\/billing, not the expected spiffe:\/\/mesh\.local\/service\/orders/);
});

test('a client certificate from another CA is refused by the server', { timeout: 20_000 }, async () => {
  const out = await handshake(files.orders!, { ...raw(files.otherWeb!), checkServerIdentity: serverIdentityCheck({ trustDomain: 'mesh.local', roles: ['server'], expected: ORDERS }) });
  assert.equal(out.ok, false);
  assert.match(out.serverError ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE|UNABLE_TO_GET_ISSUER_CERT/);
});

test('a server certificate from another CA is refused by the client, even with the right SPIFFE ID', { timeout: 20_000 }, async () => {
  const out = await handshake(raw(files.otherOrders!, other.caPath), web(), true);
  assert.equal(out.ok, false);
  assert.match(out.clientError ?? '', /certificate|verify|signature/i);
});

test('an expired client certificate is refused by the server', { timeout: 20_000 }, async () => {
  const out = await handshake(files.orders!, { ...raw(files.expiredWeb!), checkServerIdentity: serverIdentityCheck({ trustDomain: 'mesh.local', roles: ['server'], expected: ORDERS }) });
  assert.equal(out.ok, false);
  assert.match(out.serverError ?? '', /CERT_HAS_EXPIRED/);
});

test('a not-yet-valid client certificate is refused by the server', { timeout: 20_000 }, async () => {
  const out = await handshake(files.orders!, { ...raw(files.futureWeb!), checkServerIdentity: serverIdentityCheck({ trustDomain: 'mesh.local', roles: ['server'], expected: ORDERS }) });
  assert.equal(out.ok, false);
  assert.match(out.serverError ?? '', /CERT_NOT_YET_VALID/);
});

test('an expired server certificate is refused by the client', { timeout: 20_000 }, async () => {
  const out = await handshake(raw(files.expiredOrders!), web(), true);
  assert.equal(out.ok, false);
  assert.match(out.clientError ?? '', /expired/i);
});

test('a client without a certificate is refused by the server', { timeout: 20_000 }, async () => {
  const { ca } = raw(files.web!);
  const out = await handshake(files.orders!, { ca, checkServerIdentity: serverIdentityCheck({ trustDomain: 'mesh.local', roles: ['server'], expected: ORDERS }) });
  assert.equal(out.ok, false);
  assert.match(out.serverError ?? '', /certificate/i);
});

test('the client never turns off chain verification', () => {
  const opts = web();
  assert.equal(opts.rejectUnauthorized, true);
  assert.equal(typeof opts.checkServerIdentity, 'function');
});
