// The inbound mTLS sidecar and outbound mTLS through the real bin/mesh, with real curl and openssl as clients:
// identities reach the app, spoofed identities do not, the policy answers 403 naming its rule, every bad
// certificate is refused at the handshake — including CA-signed ones that are no mesh identity (minted with the
// openssl CLI: CA:TRUE, two URI SANs, another trust domain...) — certificates rotate without a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createServer as createNetServer } from 'node:net';
import { curlResponse as curl } from '../helpers/curl.js';
import { runMesh, startMesh, tempDir, eventually, type Daemon } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { makePki, type TestPki } from '../unit/tls/pki.js';
import { mintWithOpenssl } from '../helpers/openssl-certs.js';
import { tcpConnect } from '../../src/core/tcp-connect.js';
import { issueLeaf, writeLeaf } from '../../src/tls/leaf.js';
import type { TlsFilePaths } from '../../src/tls/context.js';

const ID = (s: string) => `spiffe://mesh.local/service/${s}`;

let tmp: ReturnType<typeof tempDir>;
let pki: TestPki;
let other: TestPki;
let certs: Record<string, TlsFilePaths>;
let app: Server;
let appAddr: string;
/** Requests the app has received. */
let appHits = 0;
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
  // Signed by the mesh CA, but not mesh identities.
  const signer = { cert: pki.caPath, key: join(pki.ca.dir, 'ca-key.pem') };
  const odd = (name: string, spec: Parameters<typeof mintWithOpenssl>[3]) => { certs[name] = mintWithOpenssl(join(tmp.path, 'odd'), name, signer, spec); };
  odd('caWeb', { san: [`URI:${ID('web')}`, 'DNS:localhost'], ca: true, keyUsage: 'critical,digitalSignature,keyCertSign' });
  odd('twoUris', { san: [`URI:${ID('web')}`, `URI:${ID('admin')}`, 'DNS:localhost'] });
  odd('noUri', { san: ['DNS:localhost'] });
  odd('foreignDomain', { san: ['URI:spiffe://other.test/service/web'] });
  odd('noClientAuth', { san: [`URI:${ID('web')}`], extKeyUsage: 'serverAuth' });
  odd('caOrders', { san: [`URI:${ID('orders')}`, 'DNS:localhost'], ca: true, keyUsage: 'critical,digitalSignature,keyCertSign' });
  // The app echoes what it was told about the caller.
  app = createServer((req, res) => {
    appHits++;
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
/** The body of a `curl -i` answer (after the status line and headers). */
const bodyOf = (withHeaders: string) => withHeaders.slice(withHeaders.indexOf('\r\n\r\n') + 4);

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

test('a bare TCP connect (an outbound proxy\'s reachability probe, a --check-tcp health check) is no refused TLS client: not counted, not logged', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t, ['--inbound-admin', '127.0.0.1:0']);
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  // The same connect the prober makes; then a real refusal, so there is an event to wait for.
  for (let i = 0; i < 3; i++) await tcpConnect(`127.0.0.1:${port}`, 5_000);
  const none = await curl(['--cacert', pki.caPath, `https://localhost:${port}/orders`]);
  assert.notEqual(none.code, 0);
  const metrics = (await eventually(async () => { const m = (await curl([`${admin}/metrics`])).body; return /PEER_DID_NOT_RETURN_A_CERTIFICATE/.test(m) ? m : undefined; }))!;
  const failures = metrics.split('\n').filter((l) => l.startsWith('mesh_inbound_tls_handshake_failures_total{'));
  assert.deepEqual(failures, ['mesh_inbound_tls_handshake_failures_total{service="orders",reason="ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"} 1']);
  await d.waitFor(/refused TLS client 127\.0\.0\.1: ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE/);
  assert.doesNotMatch(d.stderr(), /ECONNRESET/);
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

test('outbound mTLS: the proxy dials an endpoint\'s mesh TLS port and checks its SPIFFE ID; a wrong one is 502 upstream-identity naming that port', { timeout: 45_000 }, async (t) => {
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
  const via = (url: string) => curl(['-i', '-x', `http://${m[1]}`, url]);
  const ok = (await eventually(async () => { const r = await via('http://orders/orders/7'); return r.status === 200 ? r : undefined; }, 10_000))!;
  assert.deepEqual(JSON.parse(bodyOf(ok.body)), { url: '/orders/7', client: ID('web'), spoofCount: 1, proto: 'https' });
  const wrong = (await eventually(async () => { const r = await via('http://payments/x'); return r.status >= 500 ? r : undefined; }, 10_000))!;
  // Its own cause, not a network failure, naming the TLS port dialled (not the app port) and both identities.
  assert.equal(wrong.status, 502);
  assert.match(wrong.body, /^x-mesh-error: upstream-identity\r$/m);
  const err = JSON.parse(bodyOf(wrong.body)).error;
  assert.equal(err.code, 'MESH_ERR_UPSTREAM_IDENTITY');
  assert.match(err.message, new RegExp(`^service "payments": refused the certificate of 127\\.0\\.0\\.1:${inPort}, the mesh TLS port of endpoint 127\\.0\\.0\\.1:${appPort} \\(it is spiffe://mesh\\.local/service/orders, not the expected spiffe://mesh\\.local/service/payments\\) after \\d+ tr(y|ies)$`));
  // The refused identity is a TLS handshake failure of that endpoint in the outbound proxy's scrape.
  const admin = /\(admin (127\.0\.0\.1:\d+)/.exec(proxy.stderr())![1];
  const scrape = await curl([`http://${admin}/metrics`]);
  const failures = /^mesh_tls_handshake_failures_total\{direction="outbound",service="payments",endpoint="payments-1"\} (\d+)$/m.exec(scrape.body);
  assert.ok(failures && Number(failures[1]) >= 1, scrape.body.split('\n').filter((l) => l.includes('tls')).join('\n'));
  assert.doesNotMatch(scrape.body, /^mesh_tls_handshake_failures_total\{direction="outbound",service="orders".*\} [1-9]/m);
  const stopped = await proxy.stop('SIGTERM');
  assert.equal(stopped.code, 0);
});

test('outbound mTLS and reachability: a refused identity leaves the endpoint reachable; a dead sidecar is unreachable and probed on its TLS port, not its app port', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const side = await sidecar(t);
  const appPort = Number(appAddr.split(':')[1]);
  for (const service of ['orders', 'payments']) {
    const r = await runMesh(['register', service, '--id', `${service}-1`, '--address', appAddr, '--tls-port', String(side.port), '--registry', reg.url]);
    assert.equal(r.code, 0, r.stderr);
  }
  const proxy = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', reg.url, '--cert', certs.web!.cert, '--key', certs.web!.key, '--ca', pki.caPath]);
  t.after(async () => { await proxy.stop('SIGKILL'); });
  const listen = (await proxy.waitFor(/outbound (127\.0\.0\.1:\d+)/))[1]!;
  const admin = /\(admin (127\.0\.0\.1:\d+)/.exec(proxy.stderr())![1];
  const h1 = (service: string) => curl(['-i', '-x', `http://${listen}`, `http://${service}/x`]);
  const h2 = (service: string) => curl(['-i', '--http2-prior-knowledge', '-H', `host: ${service}`, `http://${listen}/x`]);
  const unreachable = async (service: string) => {
    const scrape = (await curl([`http://${admin}/metrics`])).body;
    const m = new RegExp(`^mesh_endpoint_unreachable\\{service="${service}",endpoint="${service}-1"\\} (\\d+)$`, 'm').exec(scrape);
    assert.ok(m, scrape.split('\n').filter((l) => l.includes('unreachable')).join('\n'));
    return Number(m[1]);
  };
  assert.equal((await eventually(async () => { const r = await h1('orders'); return r.status === 200 ? r : undefined; }, 10_000))!.status, 200);
  // The TLS port answered, with the wrong identity: not a connect failure, so the endpoint stays reachable.
  for (const call of [h1, h2]) {
    const r = await call('payments');
    assert.equal(r.status, 502);
    assert.match(r.body, /^x-mesh-error: upstream-identity\r$/mi);
  }
  assert.equal(await unreachable('payments'), 0, 'a refused certificate marked the endpoint unreachable');
  // The sidecar dies, its app lives on: the endpoint is unreachable until something accepts on the TLS port.
  let appConnects = 0;
  const countAppConnects = () => { appConnects++; };
  app.on('connection', countAppConnects);
  t.after(() => { app.off('connection', countAppConnects); });
  await side.d.stop('SIGKILL');
  const dead = await h1('orders');
  assert.equal(dead.status, 502);
  assert.match(bodyOf(dead.body), new RegExp(`cannot connect to 127\\.0\\.0\\.1:${side.port} \\(ECONNREFUSED\\)`));
  assert.equal(await unreachable('orders'), 1);
  // A bare listener on the TLS port: the probe's connect lands there (and brings the endpoint back), never on the app.
  const stand = createNetServer((s) => s.destroy());
  await new Promise<void>((r) => stand.listen(side.port, '127.0.0.1', r));
  const probed = new Promise<void>((r) => stand.once('connection', () => r()));
  // Probes come 250 ms, 500 ms, 1 s, ... apart: one lands here within seconds, or the endpoint was left on the app port.
  await eventually(async () => (await unreachable('orders')) === 0 ? true : undefined, 10_000).finally(() => stand.close());
  assert.equal(appConnects, 0, `the prober connected to the app port ${appPort}`);
  await probed;
  // The sidecar is back on its port: requests flow again (HTTP/1.1: this app does not speak h2c).
  const again = startMesh(['proxy', 'start', '--inbound', `127.0.0.1:${side.port}`, '--app', appAddr, '--service', 'orders', '--cert', certs.orders!.cert, '--key', certs.orders!.key, '--ca', pki.caPath]);
  t.after(async () => { await again.stop('SIGKILL'); });
  await again.waitFor(/inbound 127\.0\.0\.1:\d+ ->/);
  const back = await h1('orders');
  assert.equal(back.status, 200, back.body);
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
  assert.match(wrong.stderr.trim(), /^mesh: mTLS handshake with 127.0.0.1:\d+ failed: server certificate refused: it is spiffe:\/\/mesh.local\/service\/orders, not the expected spiffe:\/\/mesh.local\/service\/payments/);
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

test('a CA-signed client certificate that is no mesh identity is refused after the handshake, even where from: unauthenticated would admit it', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t, ['--policy', policy, '--inbound-admin', '127.0.0.1:0']);
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const hits = appHits;
  // GET /health is what the policy's "probes" rule admits for unauthenticated callers.
  for (const name of ['caWeb', 'twoUris', 'noUri', 'foreignDomain', 'noClientAuth']) {
    const r = await curl([...as(certs[name]!), `https://localhost:${port}/health`]);
    assert.notEqual(r.code, 0, `${name}: refused (${r.status} ${r.body})`);
    assert.equal(r.status, 0, name);
  }
  const s = spawnSync('openssl', ['s_client', '-ign_eof', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.caPath, '-cert', certs.caWeb!.cert, '-key', certs.caWeb!.key],
    { input: 'GET /health HTTP/1.0\r\n\r\n', encoding: 'utf8', timeout: 10_000 });
  assert.doesNotMatch(s.stdout, /HTTP\/1\.[01] /, 'openssl s_client gets no HTTP answer');
  assert.equal(appHits, hits, 'no request reached the app');
  // The first refusal is logged with its reason (at most a line a second); every one is counted by reason.
  await d.waitFor(/refused TLS client 127\.0\.0\.1: IDENTITY_CA_CERTIFICATE: its certificate is not a mesh identity: it is a CA certificate \(basicConstraints CA:TRUE\), not an end-entity certificate/);
  const metrics = await eventually(async () => { const m = (await curl([`${admin}/metrics`])).body; return /IDENTITY_FOREIGN_TRUST_DOMAIN/.test(m) ? m : undefined; });
  const count = (reason: string) => Number(new RegExp(`^mesh_inbound_tls_handshake_failures_total\\{service="orders",reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics!)?.[1] ?? 0);
  assert.equal(count('IDENTITY_CA_CERTIFICATE'), 2, metrics);
  assert.equal(count('IDENTITY_SEVERAL_URI_SANS'), 1);
  assert.equal(count('IDENTITY_NO_SPIFFE_ID'), 1);
  assert.equal(count('IDENTITY_FOREIGN_TRUST_DOMAIN'), 1);
  assert.equal(count('INVALID_PURPOSE'), 1, 'no clientAuth: OpenSSL refuses it in the handshake itself');
  // A proper mesh certificate still gets in.
  assert.equal((await curl([...as(certs.web!), `https://localhost:${port}/health`])).status, 200);
});

test('--permissive: a TLS caller whose certificate is no mesh identity is unauthenticated, exactly as a plaintext caller', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t, ['--policy', policy, '--permissive']);
  const health = await curl([...as(certs.caWeb!), '-H', `x-mesh-client-id: ${ID('web')}`, `https://localhost:${port}/health`]);
  assert.equal(health.status, 200, health.body + health.stderr);
  assert.deepEqual(JSON.parse(health.body), { url: '/health', client: null, spoofCount: 0, proto: 'https' }, 'a CA certificate is never taken as the service it names');
  const orders = await curl([...as(certs.caWeb!), `https://localhost:${port}/orders`]);
  assert.equal(orders.status, 403);
  assert.equal(JSON.parse(orders.body).error.message, 'an unauthenticated caller may not GET /orders on orders');
  const two = await curl([...as(certs.twoUris!), `https://localhost:${port}/health`]);
  assert.equal(JSON.parse(two.body).client, null);
  await d.waitFor(/TLS caller from 127\.0\.0\.1 whose certificate is not a mesh identity \(it is a CA certificate \(basicConstraints CA:TRUE\), not an end-entity certificate\), treated as unauthenticated \(--permissive\)/);
});

test('a sidecar will not start as a certificate that is no mesh identity: CA:TRUE, two URI SANs, another trust domain than its CA\'s', { timeout: 30_000 }, async () => {
  const start = (service: string, c: TlsFilePaths) => runMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', appAddr, '--service', service, '--cert', c.cert, '--key', c.key, '--ca', pki.caPath]);
  const cases: [string, TlsFilePaths, RegExp][] = [
    ['orders', certs.caOrders!, /^mesh: certificate ".*caOrders.pem" is not a usable mesh identity: it is a CA certificate \(basicConstraints CA:TRUE\), not an end-entity certificate \(/],
    ['web', certs.twoUris!, /is not a usable mesh identity: it carries 2 URI SANs \(spiffe:\/\/mesh.local\/service\/web, spiffe:\/\/mesh.local\/service\/admin\); a mesh identity has exactly one/],
    ['web', certs.foreignDomain!, /is not a usable mesh identity: its SPIFFE ID spiffe:\/\/other.test\/service\/web is in trust domain other.test, not the mesh's mesh.local \(its CA ".*ca.pem" issues identities in mesh.local/],
    ['web', certs.noUri!, /is not a usable mesh identity: it carries no SPIFFE ID \(no URI SAN\)/],
  ];
  for (const [service, c, re] of cases) {
    const r = await start(service, c);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
  }
});

test('outbound mTLS: a server presenting a CA certificate or two URI SANs is 502 upstream-identity, even with the expected SPIFFE ID', { timeout: 45_000 }, async (t) => {
  const reg = await startRegistry(t);
  let reached = 0;
  const impostor = async (c: TlsFilePaths) => {
    const srv = createHttpsServer({ cert: readFileSync(c.cert), key: readFileSync(c.key) }, (_req, res) => { reached++; res.end('reached'); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => { srv.closeAllConnections(); srv.close(); });
    return (srv.address() as { port: number }).port;
  };
  const appPort = Number(appAddr.split(':')[1]);
  const caPort = await impostor(certs.caOrders!);
  const twoPort = await impostor(certs.twoUris!);
  for (const [service, tlsPort] of [['orders', caPort], ['admin', twoPort]] as const) {
    const r = await runMesh(['register', service, '--id', `${service}-1`, '--address', `127.0.0.1:${appPort}`, '--tls-port', String(tlsPort), '--registry', reg.url]);
    assert.equal(r.code, 0, r.stderr);
  }
  const proxy = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', reg.url, '--cert', certs.web!.cert, '--key', certs.web!.key, '--ca', pki.caPath]);
  t.after(async () => { await proxy.stop('SIGKILL'); });
  const listen = (await proxy.waitFor(/outbound (127\.0\.0\.1:\d+)/))[1]!;
  const call = (service: string) => eventually(async () => { const r = await curl(['-i', '-x', `http://${listen}`, `http://${service}/x`]); return r.status >= 500 ? r : undefined; }, 10_000);
  const cases: [string, number, string][] = [
    ['orders', caPort, 'it is a CA certificate (basicConstraints CA:TRUE), not an end-entity certificate'],
    ['admin', twoPort, `it carries 2 URI SANs (${ID('web')}, ${ID('admin')}); a mesh identity has exactly one`],
  ];
  for (const [service, tlsPort, reason] of cases) {
    const r = (await call(service))!;
    assert.equal(r.status, 502, service);
    assert.match(r.body, /^x-mesh-error: upstream-identity\r$/m, service);
    const err = JSON.parse(bodyOf(r.body)).error as { code: string; message: string };
    assert.equal(err.code, 'MESH_ERR_UPSTREAM_IDENTITY');
    assert.ok(err.message.startsWith(`service "${service}": refused the certificate of 127.0.0.1:${tlsPort}, the mesh TLS port of endpoint 127.0.0.1:${appPort} (${reason}) after `), err.message);
  }
  assert.equal(reached, 0, 'no request reached the impostors');
});

test('a caller refused late in the handshake (a certificate without clientAuth) is logged with its address', { timeout: 30_000 }, async (t) => {
  const { d, port } = await sidecar(t);
  const r = await curl([...as(certs.noClientAuth!), `https://localhost:${port}/health`]);
  assert.notEqual(r.code, 0);
  await d.waitFor(/refused TLS client 127\.0\.0\.1: INVALID_PURPOSE/);
  assert.doesNotMatch(d.stderr(), /refused TLS client unknown/);
});
