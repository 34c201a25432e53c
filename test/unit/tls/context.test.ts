// loadTlsMaterial's cross-checks and ReloadingTlsContext: a valid new certificate is swapped in for new
// handshakes without touching open connections; an invalid one is refused with a log line and the old kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { clientTlsOptions, loadTlsMaterial, ReloadingTlsContext, serverTlsOptions, type TlsFilePaths } from '../../../src/tls/context.js';
import { issueLeaf, writeLeaf } from '../../../src/tls/leaf.js';
import { eventually, tempDir } from '../../helpers/mesh.js';
import { makePki, type TestPki } from './pki.js';

let tmp: ReturnType<typeof tempDir>;
let mesh: TestPki;
let other: TestPki;

before(async () => {
  tmp = tempDir('mesh-ctx-');
  mesh = await makePki(tmp.path, 'mesh');
  other = await makePki(tmp.path, 'other');
});
after(() => tmp.cleanup());

test('loadTlsMaterial accepts a matching set and names the identity', async () => {
  const m = loadTlsMaterial(await mesh.leaf('orders'), { expectSpiffeId: 'spiffe://mesh.local/service/orders' });
  assert.equal(m.spiffeId, 'spiffe://mesh.local/service/orders');
  assert.deepEqual(m.warnings, []);
});

test('loadTlsMaterial refuses every inconsistent set with one line naming the file', async () => {
  const orders = await mesh.leaf('orders');
  const web = await mesh.leaf('web', { out: 'web' });
  const foreign = await other.leaf('orders');
  const now = Date.now();
  const expired = await mesh.leaf('orders', { out: 'expired', notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 3_600_000) });
  const cases: [string, TlsFilePaths, RegExp, string?][] = [
    ['key of another certificate', { ...orders, key: web.key }, /does not match certificate/],
    ['certificate from another CA', { ...foreign, ca: mesh.caPath }, /was not issued by the CA/],
    ['expired certificate', expired, /expired on/],
    ['wrong identity', web, /is not a usable mesh identity: it is spiffe:\/\/mesh.local\/service\/web, not the expected spiffe:\/\/mesh.local\/service\/orders/, 'spiffe://mesh.local/service/orders'],
    ['missing key', { ...orders, key: join(tmp.path, 'nope.pem') }, /cannot read private key .*no such file/],
    ['CA file that is a leaf', { ...orders, ca: web.cert }, /was not issued by the CA/],
  ];
  for (const [name, paths, re, expect] of cases) {
    assert.throws(() => loadTlsMaterial(paths, expect ? { expectSpiffeId: expect } : {}), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESH_ERR_TLS', name);
      assert.match(err.message, re, name);
      assert.doesNotMatch(err.message, /\n/, name);
      return true;
    });
  }
});

async function fetchPeer(port: number, opts: object): Promise<{ serial: string; reply: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, ...opts }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      let reply = '';
      sock.setEncoding('utf8').on('data', (d: string) => { reply += d; }).on('end', () => resolve({ serial, reply }));
      sock.write('hello');
    });
    sock.on('error', reject);
  });
}

test('rotation: a new certificate serves new handshakes, an open connection survives, a bad file is refused', { timeout: 30_000 }, async (t) => {
  const dir = join(tmp.path, 'rotate');
  const issue = async () => writeLeaf(dir, 'orders', await issueLeaf(mesh.ca, { service: 'orders', lifetimeMs: 3_600_000, dns: [], ip: [] }));
  const first = await issue();
  const paths = { cert: first.certPath, key: first.keyPath, ca: mesh.caPath };
  const logs: string[] = [];
  const ctx = new ReloadingTlsContext(paths, { expectSpiffeId: 'spiffe://mesh.local/service/orders', debounceMs: 50, pollMs: 100, log: (l) => logs.push(l) });
  t.after(() => ctx.close());
  const open = new Set<TLSSocket>();
  const server = createServer(serverTlsOptions(ctx.material), (s) => { open.add(s); s.on('close', () => open.delete(s)); s.on('data', (d) => s.end(`echo ${d}`)); });
  ctx.attachServer(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of open) s.destroy(); server.close(); });
  const port = (server.address() as { port: number }).port;
  const clientCtx = new ReloadingTlsContext(await mesh.leaf('web', { out: 'client' }), { pollMs: 0 });
  t.after(() => clientCtx.close());
  const client = () => clientTlsOptions(clientCtx.material, 'spiffe://mesh.local/service/orders');

  const serial1 = ctx.material.leaf.serialNumber;
  // an open connection made with the first certificate
  const held = connect({ host: '127.0.0.1', port, ...client() });
  await new Promise<void>((r, j) => { held.once('secureConnect', () => r()); held.once('error', j); });
  assert.equal(held.getPeerCertificate().serialNumber, serial1);

  await issue();
  await eventually(() => ctx.material.leaf.serialNumber !== serial1, 5_000);
  const serial2 = ctx.material.leaf.serialNumber;
  assert.equal((await fetchPeer(port, { ...client() })).serial, serial2, 'new handshakes get the new certificate');
  assert.ok(logs.some((l) => /TLS certificate reloaded \(spiffe:\/\/mesh.local\/service\/orders/.test(l)), logs.join('\n'));

  // the connection opened before the rotation still works
  const reply = await new Promise<string>((r) => { let s = ''; held.setEncoding('utf8').on('data', (d: string) => { s += d; }).on('end', () => r(s)); held.write('ping'); });
  assert.equal(reply, 'echo ping');

  // a corrupt certificate is refused and the current one stays
  writeFileSync(paths.cert, '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
  await eventually(() => logs.some((l) => /refused new TLS files/.test(l)), 5_000);
  assert.equal(ctx.material.leaf.serialNumber, serial2);
  assert.equal((await fetchPeer(port, { ...client() })).serial, serial2, 'the server still serves the last good certificate');

  // a valid certificate of another service is refused too (the sidecar's identity is fixed)
  const web = await mesh.leaf('web', { out: 'web2' });
  copyFileSync(web.key, paths.key);
  writeFileSync(paths.cert, readFileSync(web.cert));
  await eventually(() => logs.filter((l) => /refused new TLS files/.test(l)).some((l) => /it is spiffe:\/\/mesh.local\/service\/web, not the expected/.test(l)), 5_000);
  assert.equal(ctx.material.spiffeId, 'spiffe://mesh.local/service/orders');
});
