// The inbound mTLS sidecar and outbound mTLS through the real bin/mesh, with real curl and openssl as clients:
// identities reach the app, spoofed identities do not, the policy answers 403 naming its rule, every bad
// certificate is refused at the handshake, certificates rotate without a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { curl, runMesh, startMesh, tempDir, eventually, type Daemon } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { makePki, type TestPki } from '../unit/tls/pki.js';
import { issueLeaf, writeLeaf } from '../../src/tls/leaf.js';
import type { TlsFilePaths } from '../../src/tls/context.js';

const ID = (s: string) => `spiffe://mesh.local/service/${s}`;

let tmp: ReturnType<typeof tempDir>;
let pki: TestPki;
let other: TestPki;
let certs: Record<string, TlsFilePaths>;
let app: Server;
let appAddr: string;
let policy: string;

before(async () => {
  tmp = tempDir('mesh-mtls-int-');
  pki = await makePki(tmp.path, 'mesh');
  other = await makePki(tmp.path, 'other');
  const now = Date.now();
  certs = {
    orders: await pki.leaf('orders'),
    web: await pki.leaf('web'),
    billing: await pki.leaf('billing'),
    otherWeb: await other.leaf('web'),
    expiredWeb: await pki.leaf('web', { out: 'expired', notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 3_600_000) }),
  };
  // The app echoes what it was told about the caller.
  app = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, client: req.headers['x-mesh-client-id'] ?? null, spoofCount: req.rawHeaders.filter((h) => h.toLowerCase() === 'x-mesh-client-id').length, proto: req.headers['x-forwarded-proto'] ?? null }));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appAddr = `127.0.0.1:${(app.address() as { port: number }).port}`;
  policy = join(tmp.path, 'policy.yaml');
  writeFileSync(policy, [
    'services:',
    '  orders:',
    '    deny:',
    '      - {name: no-admin, from: "*", paths: [/admin]}',
    '    allow:',
    '      - {name: web-reads, from: web, methods: [GET, POST]}',
    '      - {name: probes, from: unauthenticated, methods: GET, paths: [/health]}',
    '',
  ].join('\n'));
});
after(() => { app.close(); tmp.cleanup(); });

async function sidecar(t: { after(fn: () => Promise<void> | void): void }, extra: string[] = [], cert = certs.orders!): Promise<{ d: Daemon; port: number }> {
  const d = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', appAddr, '--service', 'orders', '--cert', cert.cert, '--key', cert.key, '--ca', pki.caPath, ...extra]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const m = await d.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/);
  return { d, port: Number(m[1]) };
}

const as = (c: TlsFilePaths) => ['--cert', c.cert, '--key', c.key, '--cacert', pki.caPath];

test('curl with a mesh certificate gets through; the app sees the caller identity, never a spoofed one', { timeout: 30_000 }, async (t) => {
  const { port } = await sidecar(t, ['--policy', policy]);
  const r = await curl([...as(certs.web!), '-H', `X-Mesh-Client-Id: ${ID('admin')}`, '-H', `x-mesh-client-id: ${ID('billing')}`, `https://localhost:${port}/orders/1?x=1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { url: '/orders/1?x=1', client: ID('web'), spoofCount: 1, proto: 'https' });
});

test('the policy: a caller it does not allow gets 403 naming the rule; path spellings cannot dodge a deny', { timeout: 30_000 }, async (t) => {
  const { port } = await sidecar(t, ['--policy', policy]);
  const billing = await curl([...as(certs.billing!), `https://localhost:${port}/orders`]);
  assert.equal(billing.status, 403);
  assert.deepEqual(JSON.parse(billing.body).error, { code: 'MESH_ERR_FORBIDDEN', message: 'billing may not GET /orders on orders', rule: 'default-deny for orders' });
  for (const path of ['/admin', '/orders/%2e%2e/admin', '//admin', '/orders/..%2fadmin', '/%61dmin/x']) {
    const r = await curl([...as(certs.web!), '--path-as-is', `https://localhost:${port}${path}`]);
    assert.equal(r.status, 403, path);
    assert.equal(JSON.parse(r.body).error.rule, 'services.orders.deny[0] "no-admin"', path);
  }
  const del = await curl([...as(certs.web!), '-X', 'DELETE', `https://localhost:${port}/orders/1`]);
  assert.equal(del.status, 403);
});

test('refused at the handshake: no certificate, another CA, an expired certificate', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t, ['--inbound-admin', '127.0.0.1:0']);
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const none = await curl(['--cacert', pki.caPath, `https://localhost:${port}/orders`]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /certificate required|alert/i);
  const s = spawnSync('openssl', ['s_client', '-ign_eof', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.caPath], { input: 'GET / HTTP/1.0\r\n\r\n', encoding: 'utf8', timeout: 10_000 });
  assert.match(s.stdout + s.stderr, /alert certificate required/);
  assert.doesNotMatch(s.stdout, /"client"/, 'no response from the app');
  const foreign = await curl(['--cert', certs.otherWeb!.cert, '--key', certs.otherWeb!.key, '--cacert', pki.caPath, `https://localhost:${port}/orders`]);
  assert.notEqual(foreign.code, 0, 'a certificate from another CA is refused');
  const expired = await curl([...as(certs.expiredWeb!), `https://localhost:${port}/orders`]);
  assert.notEqual(expired.code, 0, 'an expired certificate is refused');
  await d.waitFor(/refused TLS client 127\.0\.0\.1: /);
  const metrics = await eventually(async () => { const m = (await curl([`${admin}/metrics`])).body; return /CERT_HAS_EXPIRED/.test(m) ? m : undefined; });
  for (const reason of ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'CERT_HAS_EXPIRED']) {
    assert.match(metrics!, new RegExp(`^mesh_inbound_tls_handshake_failures_total\\{service="orders",reason="${reason}"\\} \\d+$`, 'm'));
  }
  assert.match(metrics!, /reason="(UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE)"/);
});

test('--permissive: plaintext callers are unauthenticated, mTLS callers keep their identity on the same port', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t, ['--policy', policy, '--permissive', '--inbound-admin', '127.0.0.1:0']);
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const health = await curl(['-H', `x-mesh-client-id: ${ID('web')}`, `http://127.0.0.1:${port}/health`]);
  assert.equal(health.status, 200, health.body);
  assert.deepEqual(JSON.parse(health.body), { url: '/health', client: null, spoofCount: 0, proto: 'http' });
  const orders = await curl([`http://127.0.0.1:${port}/orders`]);
  assert.equal(orders.status, 403);
  assert.equal(JSON.parse(orders.body).error.message, 'an unauthenticated caller may not GET /orders on orders');
  const mtls = await curl([...as(certs.web!), `https://localhost:${port}/orders`]);
  assert.equal(JSON.parse(mtls.body).client, ID('web'));
  await d.waitFor(/plaintext caller from 127\.0\.0\.1, treated as unauthenticated/);
  // the metrics report plaintext callers as unauthenticated
  const metrics = (await curl([`${admin}/metrics`])).body;
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="unauthenticated",auth="none",decision="allow"\} 1$/m);
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="unauthenticated",auth="none",decision="deny"\} 1$/m);
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="web",auth="mtls",decision="allow"\} 1$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
});

function serialOf(port: number, c: TlsFilePaths): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, cert: readFileSync(c.cert), key: readFileSync(c.key), ca: readFileSync(pki.caPath), checkServerIdentity: () => undefined }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

test('rotation: a re-issued certificate is served without a restart; a corrupt one is refused and the old kept', { timeout: 30_000 }, async (t) => {
  const dir = join(tmp.path, 'rot');
  const issue = async () => writeLeaf(dir, 'orders', await issueLeaf(pki.ca, { service: 'orders', lifetimeMs: 3_600_000, dns: [], ip: [] }));
  const w = await issue();
  const { d, port } = await sidecar(t, [], { cert: w.certPath, key: w.keyPath, ca: pki.caPath });
  const s1 = await serialOf(port, certs.web!);
  await issue();
  const s2 = await eventually(async () => { const s = await serialOf(port, certs.web!); return s !== s1 ? s : undefined; }, 10_000);
  await d.waitFor(/TLS certificate reloaded \(spiffe:\/\/mesh.local\/service\/orders/);
  writeFileSync(w.certPath, 'garbage');
  await d.waitFor(/refused new TLS files \(certificate ".*orders.pem" holds no PEM certificate/, 10_000);
  assert.equal(await serialOf(port, certs.web!), s2);
  assert.equal((await curl([...as(certs.web!), `https://localhost:${port}/orders`])).status, 200);
  assert.equal(d.child.exitCode, null, 'still running');
});

test('outbound mTLS: the proxy dials an endpoint\'s mesh TLS port and checks its SPIFFE ID', { timeout: 45_000 }, async (t) => {
  const reg = await startRegistry(t);
  const { port: inPort } = await sidecar(t, ['--policy', policy]);
  const appPort = Number(appAddr.split(':')[1]);
  const register = async (service: string, id: string) => {
    const r = await runMesh(['register', service, '--id', id, '--address', `127.0.0.1:${appPort}`, '--tls-port', String(inPort), '--registry', reg.url]);
    assert.equal(r.code, 0, r.stderr);
  };
  await register('orders', 'orders-1');
  // "payments" points at the orders sidecar: a valid mesh certificate, but not payments' identity
  await register('payments', 'payments-1');
  const proxy = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', reg.url, '--cert', certs.web!.cert, '--key', certs.web!.key, '--ca', pki.caPath]);
  t.after(async () => { await proxy.stop('SIGKILL'); });
  const m = await proxy.waitFor(/outbound (127\.0\.0\.1:\d+)/);
  const via = (url: string) => curl(['-x', `http://${m[1]}`, url]);
  const ok = (await eventually(async () => { const r = await via('http://orders/orders/7'); return r.status === 200 ? r : undefined; }, 10_000))!;
  assert.deepEqual(JSON.parse(ok.body), { url: '/orders/7', client: ID('web'), spoofCount: 1, proto: 'https' });
  const wrong = (await eventually(async () => { const r = await via('http://payments/x'); return r.status >= 500 ? r : undefined; }, 10_000))!;
  assert.equal(wrong.status, 502);
  assert.match(JSON.parse(wrong.body).error.message, /server identity spiffe:\/\/mesh.local\/service\/orders is not the expected spiffe:\/\/mesh.local\/service\/payments/);
  // The refused identity is a TLS handshake failure of that endpoint in the outbound proxy's scrape.
  const admin = /\(admin (127\.0\.0\.1:\d+)/.exec(proxy.stderr())![1];
  const scrape = await curl([`http://${admin}/metrics`]);
  const failures = /^mesh_tls_handshake_failures_total\{direction="outbound",service="payments",endpoint="payments-1"\} (\d+)$/m.exec(scrape.body);
  assert.ok(failures && Number(failures[1]) >= 1, scrape.body.split('\n').filter((l) => l.includes('tls')).join('\n'));
  assert.doesNotMatch(scrape.body, /^mesh_tls_handshake_failures_total\{direction="outbound",service="orders".*\} [1-9]/m);
  const stopped = await proxy.stop('SIGTERM');
  assert.equal(stopped.code, 0);
});

test('mesh curl --as: through the registry to the service\'s sidecar, or straight to a sidecar; the policy sees the identity', { timeout: 45_000 }, async (t) => {
  const reg = await startRegistry(t);
  const { port } = await sidecar(t, ['--policy', policy]);
  const appPort = Number(appAddr.split(':')[1]);
  assert.equal((await runMesh(['register', 'orders', '--id', 'o1', '--address', `127.0.0.1:${appPort}`, '--tls-port', String(port), '--registry', reg.url])).code, 0);
  assert.equal((await runMesh(['register', 'payments', '--id', 'p1', '--address', `127.0.0.1:${appPort}`, '--tls-port', String(port), '--registry', reg.url])).code, 0);
  const certDir = join(pki.dir, 'mesh-leaves');
  const base = ['curl', '--cert-dir', certDir, '--ca', pki.caPath, '--registry', reg.url];
  const web = await runMesh([...base, '--as', 'web', '-H', `x-mesh-client-id: ${ID('admin')}`, 'http://orders/orders/3']);
  assert.equal(web.code, 0, web.stderr);
  assert.deepEqual(JSON.parse(web.stdout), { url: '/orders/3', client: ID('web'), spoofCount: 1, proto: 'https' });
  const billing = await runMesh([...base, '--as', 'billing', '--json', '--fail', `https://127.0.0.1:${port}/orders`]);
  assert.equal(billing.code, 1, 'with --fail a 403 exits 1');
  const res = JSON.parse(billing.stdout);
  assert.equal(res.status, 403);
  assert.equal(res.serverId, ID('orders'));
  assert.equal(JSON.parse(res.body).error.rule, 'default-deny for orders');
  const post = await runMesh([...base, '--as', 'web', '-i', '-d', '{"qty":1}', 'http://orders/orders']);
  assert.match(post.stdout, /^HTTP\/1.1 200 OK\n/);
  const wrong = await runMesh([...base, '--as', 'web', 'http://payments/x']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr.trim(), /^mesh: mTLS handshake with 127.0.0.1:\d+ failed: server identity spiffe:\/\/mesh.local\/service\/orders is not the expected spiffe:\/\/mesh.local\/service\/payments/);
  const missing = await runMesh([...base, '--as', 'nobody', 'http://orders/']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read certificate ".*nobody.pem"/);
});

test('bad sidecar flags and files: one line, exit 2 for usage, exit 1 for unusable certificates', { timeout: 30_000 }, async () => {
  const base = ['proxy', 'start', '--inbound', '127.0.0.1:0', '--service', 'orders', '--ca', pki.caPath];
  const cases: [string[], number, RegExp][] = [
    [[...base, '--app', appAddr, '--cert', certs.orders!.cert], 2, /mTLS needs --cert, --key and --ca/],
    [[...base, '--cert', certs.orders!.cert, '--key', certs.orders!.key], 2, /--inbound needs --app/],
    [[...base, '--app', appAddr, '--cert', join(tmp.path, 'missing.pem'), '--key', certs.orders!.key], 1, /cannot read certificate ".*missing.pem": no such file/],
    [[...base, '--app', appAddr, '--cert', certs.web!.cert, '--key', certs.web!.key], 1, /is for spiffe:\/\/mesh.local\/service\/web, not service orders/],
    [[...base, '--app', appAddr, '--cert', certs.orders!.cert, '--key', certs.web!.key], 1, /does not match certificate/],
    [[...base, '--app', appAddr, '--cert', certs.expiredWeb!.cert, '--key', certs.expiredWeb!.key], 1, /expired on/],
    [[...base, '--app', appAddr, '--cert', certs.orders!.cert, '--key', certs.orders!.key, '--policy', join(tmp.path, 'nope.yaml')], 1, /cannot read policy/],
  ];
  for (const [args, code, re] of cases) {
    const r = await runMesh(args);
    assert.equal(r.code, code, `${args.join(' ')}\n${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
  }
});


