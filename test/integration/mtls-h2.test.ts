// gRPC and HTTP/2 across the mesh's mTLS hop, with real processes (bin/mesh), real certificates from
// `mesh certs ca init` / `mesh certs gen`, a real @grpc/grpc-js client and server, and real curl:
// client → outbound proxy (h2c) → mTLS with ALPN h2 → inbound sidecar → app (h2c). The app sees the caller's
// SPIFFE ID; the policy refuses with PERMISSION_DENIED naming its rule; a sidecar holding another service's
// valid certificate is refused; a TLS endpoint that does not speak h2 is a clear protocol-unsupported answer;
// HTTP/1.1 through the same sidecar keeps working; curl --http2 negotiates h2 with the sidecar.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as h2Connect } from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ordersClient, ordersService } from '../helpers/grpc-orders.js';
import { curlResponse as curl } from '../helpers/curl.js';
import { mintWithOpenssl } from '../helpers/openssl-certs.js';
import { eventually, runMesh, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { classifyPreface } from '../../src/proxy/h2/sniff.js';

type After = { after(fn: () => Promise<void> | void): void };
const ID = (s: string) => `spiffe://mesh.local/service/${s}`;
const CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'helpers', 'h2-backend-child.js');

let tmp: ReturnType<typeof tempDir>;
let caPath: string;
let policy: string;
const leaf = (s: string) => ({ cert: join(tmp.path, 'leaves', `${s}.pem`), key: join(tmp.path, 'leaves', `${s}-key.pem`) });
/** What the app was called with: gRPC calls and HTTP/1.1 requests. */
let appCalls = 0;
let grpcServer: grpc.Server;
let http1: ReturnType<typeof createHttpServer>;
let front: NetServer;
let appAddr: string;

/**
 * The app: a gRPC server (grpc-js) and an HTTP/1.1 server behind one port, as an app that serves both would
 * be; connections that open with the h2c preface are relayed to the gRPC server.
 */
async function startApp(): Promise<void> {
  grpcServer = new grpc.Server();
  const who = (md: grpc.Metadata) => ({ client: md.get('x-mesh-client-id'), proto: md.get('x-forwarded-proto')[0] ?? null });
  grpcServer.addService(ordersService, {
    Get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      appCalls++;
      cb(null, Buffer.from(JSON.stringify({ got: call.request.toString(), ...who(call.metadata) })));
    },
    List: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      appCalls++;
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`item-${i} ${call.metadata.get('x-mesh-client-id')[0]}`));
      call.end();
    },
    Slow: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => { cb(null, Buffer.alloc(0)); },
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => { appCalls++; cb({ code: grpc.status.NOT_FOUND, details: 'reached the app' }); },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  http1 = createHttpServer((req, res) => {
    appCalls++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ http: req.httpVersion, url: req.url, client: req.headers['x-mesh-client-id'] ?? null, proto: req.headers['x-forwarded-proto'] ?? null }));
  });
  front = createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const verdict = classifyPreface(seen);
      if (verdict === 'more') return;
      socket.off('data', onData);
      socket.pause();
      if (verdict === 'http1') { socket.unshift(seen); http1.emit('connection', socket); socket.resume(); return; }
      const up = netConnect(grpcPort, '127.0.0.1', () => { up.write(seen); socket.pipe(up).pipe(socket); socket.resume(); });
      up.on('error', () => socket.destroy());
      socket.on('close', () => up.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  appAddr = `127.0.0.1:${(front.address() as { port: number }).port}`;
}

before(async () => {
  tmp = tempDir('mesh-mtls-h2-');
  const ca = await runMesh(['certs', 'ca', 'init', '--dir', join(tmp.path, 'ca')]);
  assert.equal(ca.code, 0, ca.stderr);
  caPath = join(tmp.path, 'ca', 'ca.pem');
  for (const s of ['orders', 'payments', 'web', 'legacy']) {
    const r = await runMesh(['certs', 'gen', s, '--ca-dir', join(tmp.path, 'ca'), '--out', join(tmp.path, 'leaves')]);
    assert.equal(r.code, 0, r.stderr);
  }
  policy = join(tmp.path, 'policy.yaml');
  writeFileSync(policy, [
    'services:',
    '  orders:',
    '    deny:',
    '      - {name: no-fail, from: "*", paths: [/mesh.test.Orders/Fail]}',
    '      - {name: no-admin, from: "*", paths: [/admin]}',
    '    allow:',
    '      - {name: web-calls, from: web, methods: [GET, POST]}',
    '      - {name: probes, from: unauthenticated, methods: GET, paths: [/health]}',
    '',
  ].join('\n'));
  await startApp();
});
after(() => {
  grpcServer.forceShutdown();
  http1.close();
  front.close();
  tmp.cleanup();
});

async function sidecar(t: After, service: string, app: string, extra: string[] = []): Promise<{ d: Daemon; port: number }> {
  const c = leaf(service);
  const d = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', app, '--service', service, '--cert', c.cert, '--key', c.key, '--ca', caPath, ...extra]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const m = await d.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/);
  return { d, port: Number(m[1]) };
}

async function outbound(t: After, registry: string, as: string): Promise<{ d: Daemon; listen: string; admin: string }> {
  const c = leaf(as);
  const d = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', registry, '--cert', c.cert, '--key', c.key, '--ca', caPath]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const m = await d.waitFor(/outbound (127\.0\.0\.1:\d+) \(admin (127\.0\.0\.1:\d+)/);
  return { d, listen: m[1]!, admin: m[2]! };
}

async function register(registry: string, service: string, id: string, address: string, tlsPort: number): Promise<void> {
  const r = await runMesh(['register', service, '--id', id, '--address', address, '--tls-port', String(tlsPort), '--registry', registry]);
  assert.equal(r.code, 0, r.stderr);
}

const tlsCount = (scrape: string, service: string) => Number(new RegExp(`^mesh_tls_handshake_failures_total\\{direction="outbound",service="${service}",endpoint="[^"]+"\\} (\\d+)$`, 'm').exec(scrape)?.[1] ?? 0);

test('gRPC across mTLS: unary and server stream carry the caller identity, a deny is PERMISSION_DENIED naming the rule, HTTP/1.1 still works', { timeout: 40_000 }, async (t) => {
  const reg = await startRegistry(t);
  const { port } = await sidecar(t, 'orders', appAddr, ['--policy', policy]);
  await register(reg.url, 'orders', 'orders-1', appAddr, port);
  const proxy = await outbound(t, reg.url, 'web');
  const orders = ordersClient(proxy.listen, 'orders');
  t.after(() => orders.close());

  const reply = JSON.parse((await eventually(async () => orders.get('order-1').catch(() => undefined), 10_000))!.toString());
  assert.deepEqual(reply, { got: 'order-1', client: [ID('web')], proto: 'https' });
  for (let i = 2; i <= 20; i++) assert.equal(JSON.parse((await orders.get(`order-${i}`)).toString()).got, `order-${i}`);
  const items = await orders.list(100);
  assert.deepEqual(items, Array.from({ length: 100 }, (_, i) => `item-${i} ${ID('web')}`));

  const before = appCalls;
  await assert.rejects(orders.fail('x'), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err.details, 'web may not POST /mesh.test.Orders/Fail on orders (rule: services.orders.deny[0] "no-fail")');
    assert.deepEqual(err.metadata.get('x-mesh-error'), ['forbidden']);
    return true;
  });
  assert.equal(appCalls, before, 'a denied call never reaches the app');

  // HTTP/1.1 through the same proxy and sidecar, and straight to the sidecar with curl (ALPN http/1.1).
  const h1 = await curl(['-x', `http://${proxy.listen}`, 'http://orders/plain?x=1']);
  assert.equal(h1.status, 200, h1.body);
  assert.deepEqual(JSON.parse(h1.body), { http: '1.1', url: '/plain?x=1', client: ID('web'), proto: 'https' });
  const c = leaf('web');
  const direct = await curl(['--http1.1', '--cert', c.cert, '--key', c.key, '--cacert', caPath, `https://localhost:${port}/direct`]);
  assert.equal(direct.version, '1.1');
  assert.deepEqual(JSON.parse(direct.body), { http: '1.1', url: '/direct', client: ID('web'), proto: 'https' });

  const scrape = await curl([`http://${proxy.admin}/metrics`]);
  assert.equal(tlsCount(scrape.body, 'orders'), 0);
  assert.equal((await proxy.d.stop('SIGTERM')).code, 0);
});

test('outbound h2 refuses a sidecar holding another service\'s valid certificate (upstream-identity), and answers protocol-unsupported for a TLS endpoint without h2', { timeout: 40_000 }, async (t) => {
  const reg = await startRegistry(t);
  // "orders" points at a sidecar that holds payments' certificate: valid in the mesh, but not orders.
  const { port: paymentsPort } = await sidecar(t, 'payments', appAddr);
  await register(reg.url, 'orders', 'orders-x', appAddr, paymentsPort);
  // "legacy" has a mesh TLS port served by an HTTP/1.1-only TLS server (no ALPN h2).
  const lc = leaf('legacy');
  const legacy = createHttpsServer({ cert: readFileSync(lc.cert), key: readFileSync(lc.key), ca: readFileSync(caPath), requestCert: true, rejectUnauthorized: true }, (_req, res) => { res.end('legacy over HTTP/1.1'); });
  await new Promise<void>((r) => legacy.listen(0, '127.0.0.1', r));
  t.after(() => { legacy.closeAllConnections(); legacy.close(); });
  await register(reg.url, 'legacy', 'legacy-1', appAddr, (legacy.address() as { port: number }).port);
  const proxy = await outbound(t, reg.url, 'web');

  const orders = ordersClient(proxy.listen, 'orders');
  t.after(() => orders.close());
  const before = appCalls;
  const err = await eventually(async () => {
    const e = await orders.get('x').then(() => undefined, (e: grpc.ServiceError) => e);
    return e?.metadata.get('x-mesh-error')[0] === 'upstream-identity' ? e : undefined;
  }, 10_000);
  assert.equal(err!.code, grpc.status.UNAVAILABLE);
  // Its own cause (not a network failure), naming the TLS port dialled, the endpoint and both identities.
  assert.ok(err!.details.startsWith(`service "orders": refused the certificate of 127.0.0.1:${paymentsPort}, the mesh TLS port of endpoint ${appAddr} (it is ${ID('payments')}, not the expected ${ID('orders')}) after `), err!.details);
  assert.equal(appCalls, before, 'the call never reached the app');
  const scrape = await curl([`http://${proxy.admin}/metrics`]);
  assert.ok(tlsCount(scrape.body, 'orders') >= 1, scrape.body.split('\n').filter((l) => l.includes('tls')).join('\n'));

  const legacyClient = ordersClient(proxy.listen, 'legacy');
  t.after(() => legacyClient.close());
  for (let i = 0; i < 3; i++) {
    await assert.rejects(legacyClient.get('x'), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED);
      assert.match(e.details, /did not negotiate HTTP\/2 \(ALPN h2\) on its mesh TLS port/);
      assert.deepEqual(e.metadata.get('x-mesh-error'), ['protocol-unsupported']);
      return true;
    });
  }
  // Not a failure of the endpoint: not counted as a handshake failure, and HTTP/1.1 callers still get through.
  const h1 = await curl(['-x', `http://${proxy.listen}`, 'http://legacy/']);
  assert.equal(h1.status, 200, h1.body);
  assert.equal(h1.body, 'legacy over HTTP/1.1');
  const s2 = (await curl([`http://${proxy.admin}/metrics`])).body; assert.equal(tlsCount(s2, "legacy"), 0, s2.split("\n").filter((l) => l.includes("tls")).join("\n") + proxy.d.stderr());
});

test('curl --http2 negotiates h2 with the sidecar; plain h2 denials are 403 JSON; --permissive takes h2c prior knowledge as unauthenticated', { timeout: 40_000 }, async (t) => {
  const child = spawn(process.execPath, [CHILD_JS, 'h2app'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => { if (child.exitCode === null) { child.kill('SIGKILL'); await exited; } });
  const h2Port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; const m = / h2=(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.once('exit', (code) => reject(new Error(`h2 app exited (${code})`)));
  });
  const { d, port } = await sidecar(t, 'orders', `127.0.0.1:${h2Port}`, ['--policy', policy, '--permissive', '--inbound-admin', '127.0.0.1:0']);
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const c = leaf('web');
  const tls = ['--cert', c.cert, '--key', c.key, '--cacert', caPath];

  const ok = await curl(['--http2', ...tls, '-H', `x-mesh-client-id: ${ID('admin')}`, `https://localhost:${port}/orders/7?x=1`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.version, '2');
  assert.equal(ok.status, 200);
  const seen = JSON.parse(ok.body) as { path: string; headers: Record<string, string> };
  assert.equal(seen.path, '/orders/7?x=1');
  assert.equal(seen.headers['x-mesh-client-id'], ID('web'), 'set from the certificate, the spoofed value dropped');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');

  const denied = await curl(['--http2', ...tls, `https://localhost:${port}/admin`]);
  assert.equal(denied.version, '2');
  assert.equal(denied.status, 403);
  assert.deepEqual(JSON.parse(denied.body).error, { code: 'MESH_ERR_FORBIDDEN', message: 'web may not GET /admin on orders', rule: 'services.orders.deny[1] "no-admin"' });

  const noCert = await curl(['--http2', '--cacert', caPath, `https://localhost:${port}/orders/7`]);
  assert.notEqual(noCert.code, 0, 'no client certificate: refused at the handshake');

  const probe = await curl(['--http2-prior-knowledge', '-H', `x-mesh-client-id: ${ID('web')}`, `http://127.0.0.1:${port}/health`]);
  assert.equal(probe.version, '2');
  assert.equal(probe.status, 200, probe.body);
  const plain = JSON.parse(probe.body) as { headers: Record<string, string> };
  assert.equal(plain.headers['x-mesh-client-id'], undefined, 'plaintext callers carry no identity');
  assert.equal(plain.headers['x-forwarded-proto'], 'http');
  const refused = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${port}/orders/7`]);
  assert.equal(refused.status, 403);
  assert.equal(JSON.parse(refused.body).error.message, 'an unauthenticated caller may not GET /orders/7 on orders');

  const metrics = (await curl([`${admin}/metrics`])).body;
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="web",auth="mtls",decision="allow"\} 1$/m);
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="web",auth="mtls",decision="deny"\} 1$/m);
  assert.match(metrics, /^mesh_inbound_requests_total\{service="orders",caller="unauthenticated",auth="none",decision="allow"\} 1$/m);
  assert.equal((await d.stop('SIGTERM')).code, 0);
});

test('h2 and gRPC callers whose CA-signed certificate is no mesh identity are refused before any stream reaches the app', { timeout: 40_000 }, async (t) => {
  const { d, port } = await sidecar(t, 'orders', appAddr, ['--policy', policy]);
  const signer = { cert: caPath, key: join(tmp.path, 'ca', 'ca-key.pem') };
  const caWeb = mintWithOpenssl(join(tmp.path, 'odd'), 'ca-web', signer, { san: [`URI:${ID('web')}`, 'DNS:localhost'], ca: true, keyUsage: 'critical,digitalSignature,keyCertSign' });
  const twoUris = mintWithOpenssl(join(tmp.path, 'odd'), 'two-uris', signer, { san: [`URI:${ID('web')}`, `URI:${ID('admin')}`, 'DNS:localhost'] });
  const before = appCalls;
  // A real gRPC client over mTLS, straight to the sidecar (ALPN h2 only), with a CA:TRUE certificate naming web.
  const creds = grpc.credentials.createSsl(readFileSync(caPath), readFileSync(caWeb.key), readFileSync(caWeb.cert), { checkServerIdentity: () => undefined });
  const orders = ordersClient(`127.0.0.1:${port}`, 'orders', creds);
  t.after(() => orders.close());
  await assert.rejects(orders.get('x', 5_000), (e: grpc.ServiceError) => { assert.equal(e.code, grpc.status.UNAVAILABLE, e.details); return true; });
  // curl --http2 with two URI SANs, to a path the policy admits for unauthenticated callers.
  const two = await curl(['--http2', '--cert', twoUris.cert, '--key', twoUris.key, '--cacert', caPath, `https://localhost:${port}/health`]);
  assert.notEqual(two.code, 0, `${two.status} ${two.body}`);
  assert.equal(appCalls, before, 'nothing reached the app');
  await d.waitFor(/refused TLS client 127\.0\.0\.1: IDENTITY_(CA_CERTIFICATE|SEVERAL_URI_SANS): its certificate is not a mesh identity/);
  // The same gRPC client with web's mesh certificate gets through as web.
  const c = leaf('web');
  const good = ordersClient(`127.0.0.1:${port}`, 'orders', grpc.credentials.createSsl(readFileSync(caPath), readFileSync(c.key), readFileSync(c.cert), { checkServerIdentity: () => undefined }));
  t.after(() => good.close());
  assert.deepEqual(JSON.parse((await good.get('y')).toString()), { got: 'y', client: [ID('web')], proto: 'https' });
});

test('an h2-only caller to an HTTP/1.1-only app behind the sidecar gets protocol-unsupported from its first call on, never upstream-connect', { timeout: 40_000 }, async (t) => {
  // The app speaks HTTP/1.1 only: Node's HTTP server answers the h2c preface with 400 and closes.
  const app = createHttpServer((_req, res) => { res.end('HTTP/1.1 only'); });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => { app.closeAllConnections(); app.close(); });
  const { port } = await sidecar(t, 'legacy', `127.0.0.1:${(app.address() as { port: number }).port}`);
  // A caller that offers only h2 (as gRPC clients do), so the sidecar must take h2 whatever the app speaks.
  const c = leaf('web');
  const session = h2Connect(`https://localhost:${port}`, {
    ALPNProtocols: ['h2'], cert: readFileSync(c.cert), key: readFileSync(c.key), ca: readFileSync(caPath), checkServerIdentity: () => undefined,
  });
  session.on('error', () => undefined);
  t.after(() => { session.destroy(); });
  for (let i = 1; i <= 3; i++) {
    const got = await new Promise<{ status: number; error: string | undefined; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/', ':authority': 'legacy' });
      let status = 0;
      let error: string | undefined;
      let body = '';
      req.on('response', (h) => { status = Number(h[':status']); error = h['x-mesh-error'] as string | undefined; });
      req.setEncoding('utf8').on('data', (d: string) => { body += d; });
      req.on('end', () => resolve({ status, error, body }));
      req.on('error', reject);
    });
    assert.equal(got.error, 'protocol-unsupported', `call ${i}: ${got.status} ${got.body}`);
    assert.equal(got.status, 502);
  }
});
