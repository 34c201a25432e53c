// Sidecars and proxies with identities from the registry, through real processes: `mesh proxy start
// --identity registry` with MESH_IDENTITY_TOKEN, no certificate file anywhere. Short certificates (6–8 s)
// renew several times within a test; the wait for each event is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get as httpGet, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { ordersService } from '../helpers/grpc-orders.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlResponse as curl } from '../helpers/curl.js';
import { eventually, freePort, runMesh, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { get, viaProxy } from '../helpers/proxy.js';
import { createToken, makePki, newWorkload, opensslVerify, signRaw } from '../helpers/identity.js';

type T = { after(fn: () => Promise<void> | void): void };

async function echoApp(t: T): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ client: req.headers['x-mesh-client-id'] ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { server, port: (server.address() as { port: number }).port };
}

/** A mesh of two: an inbound sidecar for orders and an outbound proxy for web, both --identity registry. */
async function identityMesh(t: T, dir: string, certTtl: string, registryPort = 0) {
  const pki = await makePki(dir);
  const dataDir = join(dir, 'data');
  const regArgs = ['--issuer', pki.issuers[0]!, '--cert-ttl', certTtl];
  const reg = await startRegistry(t, { dataDir, args: registryPort === 0 ? regArgs : [...regArgs, '--listen', `127.0.0.1:${registryPort}`] });
  const app = await echoApp(t);
  const ordersToken = await createToken(reg.url, 'orders');
  const webToken = await createToken(reg.url, 'web');
  const sidecar = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', `127.0.0.1:${app.port}`, '--service', 'orders', '--identity', 'registry', '--registry', reg.url, '--inbound-admin', '127.0.0.1:0'], { env: { MESH_IDENTITY_TOKEN: ordersToken } });
  t.after(async () => { await sidecar.stop('SIGKILL'); });
  const inPort = Number((await sidecar.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/))[1]);
  const inAdmin = (await sidecar.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const r = await runMesh(['register', 'orders', '--id', 'orders-1', '--address', `127.0.0.1:${app.port}`, '--tls-port', String(inPort), '--registry', reg.url]);
  assert.equal(r.code, 0, r.stderr);
  const proxy = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', reg.url, '--identity', 'registry', '--service', 'web'], { env: { MESH_IDENTITY_TOKEN: webToken } });
  t.after(async () => { await proxy.stop('SIGKILL'); });
  const outPort = Number((await proxy.waitFor(/outbound 127\.0\.0\.1:(\d+)/))[1]);
  return { pki, reg, regArgs, dataDir, sidecar, proxy, inPort, inAdmin, outPort };
}

const count = (d: Daemon, re: RegExp) => (d.stderr().match(new RegExp(re.source, 'g')) ?? []).length;

test('mesh without certificate files: 6 s certificates renew at least five times on both sides under steady traffic, with zero failed requests', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('mesh-identity-proxy-');
  t.after(dir.cleanup);
  const m = await identityMesh(t, dir.path, '6s');
  assert.match(m.sidecar.stderr(), /identity: got spiffe:\/\/mesh\.local\/service\/orders from the registry/);
  const deadline = Date.now() + 60_000;
  let ok = 0;
  const failed: string[] = [];
  while (Date.now() < deadline && (count(m.sidecar, /identity: renewed/) < 5 || count(m.proxy, /identity: renewed/) < 5)) {
    const r = await viaProxy(m.outPort, 'orders', '/x').catch((err: Error) => ({ status: 0, body: err.message }));
    if (r.status === 200 && JSON.parse(r.body).client === 'spiffe://mesh.local/service/web') ok++;
    else failed.push(`${r.status} ${r.body}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(count(m.sidecar, /identity: renewed/) >= 5, m.sidecar.stderr());
  assert.ok(count(m.proxy, /identity: renewed/) >= 5, m.proxy.stderr());
  assert.deepEqual(failed, []);
  assert.ok(ok > 50, `steady traffic (${ok} requests)`);
  // The expiry is a metric, and it is inside the short lifetime.
  const scrape = await get(`${m.inAdmin}/metrics`);
  const expiry = Number(/^mesh_identity_cert_expiry_seconds (\S+)$/m.exec(scrape.body)![1]);
  assert.ok(expiry > 0 && expiry <= 6, `expiry ${expiry}`);
  assert.match(scrape.body, /^mesh_identity_renewal_failures_total 0$/m);
  // `mesh routes` and `mesh check` show the proxy's identity and the time its certificate has left.
  const admin = `http://${/\(admin (127\.0\.0\.1:\d+)/.exec(m.proxy.stderr())![1]}`;
  const routes = await runMesh(['routes', '--proxy', admin]);
  assert.match(routes.stdout, /^identity spiffe:\/\/mesh\.local\/service\/web \(registry-issued, certificate valid \d+s more\)$/m, routes.stdout);
  assert.match(routes.stdout, /^orders .*mTLS peer spiffe:\/\/mesh\.local\/service\/orders$/m);
  assert.match((await get(`${admin}/metrics`)).body, /^mesh_identity_cert_expiry_seconds \d/m, 'the outbound proxy exposes it too');
  // The /stats frames `mesh top` draws carry it as well.
  const frame = await new Promise<{ identity?: { spiffeId: string; source: string } }>((resolve, reject) => {
    const req = httpGet(`${admin}/stats`, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const m1 = /^data: (.*)$/m.exec(buf);
        if (m1) { req.destroy(); resolve(JSON.parse(m1[1]!)); }
      });
    });
    req.on('error', reject);
  });
  assert.equal(frame.identity?.spiffeId, 'spiffe://mesh.local/service/web');
  assert.equal(frame.identity?.source, 'registry');
  const check = await runMesh(['check', '--registry', m.reg.url, '--proxy', admin]);
  assert.match(check.stdout, /proxy identity spiffe:\/\/mesh\.local\/service\/web \(registry-issued\) (is valid for|expires in)/, check.stdout);
  // A real curl with a registry-issued client certificate reaches the sidecar as web.
  const w = await newWorkload();
  const signed = await signRaw(m.reg.url, { csr: w.csrPem, token: await createToken(m.reg.url, 'web') });
  for (const [name, text] of [['web.pem', signed.body.chain!], ['web-key.pem', w.keyPem], ['roots.pem', signed.body.roots!]] as const) writeFileSync(join(dir.path, name), text, { mode: 0o600 });
  const c = await curl(['--cert', join(dir.path, 'web.pem'), '--key', join(dir.path, 'web-key.pem'), '--cacert', join(dir.path, 'roots.pem'), '--resolve', `orders:${m.inPort}:127.0.0.1`, `https://orders:${m.inPort}/y`]);
  assert.equal(c.status, 200, c.stderr);
  assert.equal(JSON.parse(c.body).client, 'spiffe://mesh.local/service/web');
});

test('registry killed across a renewal window: traffic continues on the old certificate until it expires, then fails with a clear identity error, and recovers when the registry returns', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('mesh-identity-outage-');
  t.after(dir.cleanup);
  const port = await freePort();
  const m = await identityMesh(t, dir.path, '8s', port);
  assert.equal((await viaProxy(m.outPort, 'orders', '/a')).status, 200);
  await m.reg.daemon.stop('SIGKILL');
  // Renewal fails; the current certificate keeps serving.
  await m.proxy.waitFor(/identity: renewal failed \(.*unreachable.*\); keeping the current certificate/, 15_000);
  assert.equal((await viaProxy(m.outPort, 'orders', '/b')).status, 200);
  await m.sidecar.waitFor(/identity: the certificate for spiffe:\/\/mesh\.local\/service\/orders EXPIRED at/, 15_000);
  await m.proxy.waitFor(/identity: the certificate for spiffe:\/\/mesh\.local\/service\/web EXPIRED at/, 15_000);
  const expired = await viaProxy(m.outPort, 'orders', '/c');
  assert.equal(expired.status, 502);
  // The 502 names the expired certificate (the peer's handshake refusal surfaces as a reset naming it).
  assert.match(JSON.parse(expired.body).error.message, /CERT_HAS_EXPIRED|certificate has expired/, expired.body);
  // The registry comes back on the same address and data dir (tokens and registrations are durable).
  const reg2 = startMesh(['registry', 'start', '--data-dir', m.dataDir, ...m.regArgs, '--listen', `127.0.0.1:${port}`]);
  t.after(async () => { await reg2.stop('SIGKILL'); });
  await m.sidecar.waitFor(/identity: recovered with a new certificate/, 30_000);
  await m.proxy.waitFor(/identity: recovered with a new certificate/, 30_000);
  const back = await viaProxy(m.outPort, 'orders', '/d');
  assert.equal(back.status, 200, back.body);
});

test('--identity registry: without MESH_IDENTITY_TOKEN, or with --cert, is a one-line usage error', { timeout: 30_000 }, async () => {
  const a = await runMesh(['proxy', 'start', '--identity', 'registry', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', 'http://127.0.0.1:9']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /^mesh: --identity registry needs a bootstrap token for the first certificate: set MESH_IDENTITY_TOKEN\n$/);
  const b = await runMesh(['proxy', 'start', '--identity', 'registry', '--cert', 'x.pem', '--key', 'x-key.pem']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--identity registry replaces --cert and --key/);
});

test('a sidecar started while its registry is away waits for it and gets its certificate; SIGTERM while waiting exits 0', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-identity-wait-');
  t.after(dir.cleanup);
  const pki = await makePki(dir.path);
  const dataDir = join(dir.path, 'data');
  const port = await freePort();
  const regArgs = ['--data-dir', dataDir, '--issuer', pki.issuers[0]!, '--listen', `127.0.0.1:${port}`];
  // The token is created while the registry runs, then the registry stops (a host reboot: sidecars come up first).
  const first = startMesh(['registry', 'start', ...regArgs]);
  t.after(async () => { await first.stop('SIGKILL'); });
  await first.waitFor(/listening on/);
  const token = await createToken(`http://127.0.0.1:${port}`, 'orders');
  await first.stop('SIGTERM');
  const app = await echoApp(t);
  const sidecarArgs = ['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', `127.0.0.1:${app.port}`, '--service', 'orders', '--identity', 'registry', '--registry', `http://127.0.0.1:${port}`];
  const sidecar = startMesh(sidecarArgs, { env: { MESH_IDENTITY_TOKEN: token } });
  t.after(async () => { await sidecar.stop('SIGKILL'); });
  // It used to exit 1 here ("registry ... is unreachable").
  await sidecar.waitFor(/identity: no certificate yet \(registry at .* is unreachable/, 15_000);
  const back = startMesh(['registry', 'start', ...regArgs]);
  t.after(async () => { await back.stop('SIGKILL'); });
  await sidecar.waitFor(/identity: got spiffe:\/\/[^ ]+\/service\/orders from the registry/, 30_000);
  await sidecar.waitFor(/mesh proxy: inbound 127\.0\.0\.1:\d+ -> /, 10_000);

  // A sidecar stopped while it still waits has nothing to drain: exit 0, not a crash or a kill by signal.
  await back.stop('SIGTERM');
  const waiting = startMesh(sidecarArgs, { env: { MESH_IDENTITY_TOKEN: token } });
  t.after(async () => { await waiting.stop('SIGKILL'); });
  await waiting.waitFor(/identity: no certificate yet/, 15_000);
  const exited = new Promise<number | null>((r) => waiting.child.once('exit', (code) => r(code)));
  waiting.child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(waiting.stderr(), /SIGTERM before start-up finished; nothing to drain, stopped/);
});

test('--admin with --inbound and no --listen is a usage error naming --inbound-admin (it used to be ignored)', { timeout: 30_000 }, async () => {
  const r = await runMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', '127.0.0.1:9', '--service', 'orders', '--identity', 'registry', '--admin', '127.0.0.1:0', '--registry', 'http://127.0.0.1:9'], { env: { MESH_IDENTITY_TOKEN: 'x.y' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^mesh: --admin is the outbound proxy's admin server, which runs only with --listen; the inbound sidecar's is --inbound-admin <host:port>\n$/);
});

test('mesh run --mtls: the child gets an identity-backed inbound sidecar and is registered with its mesh TLS port', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-identity-run-');
  t.after(dir.cleanup);
  const pki = await makePki(dir.path);
  const reg = await startRegistry(t, { args: ['--issuer', pki.issuers[0]!, '--cert-ttl', '1h'] });
  const token = await createToken(reg.url, 'orders');
  const app = 'require("http").createServer((q, s) => s.end(JSON.stringify({ client: q.headers["x-mesh-client-id"] ?? null }))).listen(Number(process.env.PORT), "127.0.0.1")';
  const run = startMesh(['run', 'orders', '--mtls', '--registry', reg.url, '--', process.execPath, '-e', app], { env: { MESH_IDENTITY_TOKEN: token } });
  t.after(async () => { await run.stop('SIGKILL'); });
  await run.waitFor(/mesh run: registered orders\//);
  assert.match(run.stderr(), /identity: got spiffe:\/\/mesh\.local\/service\/orders from the registry/);
  const inst = (await reg.client.service('orders')).instances[0]!;
  assert.ok(inst.tlsPort !== undefined, 'registered with its mesh TLS port');
  const w = await newWorkload();
  const signed = await signRaw(reg.url, { csr: w.csrPem, token: await createToken(reg.url, 'web') });
  for (const [name, text] of [['web.pem', signed.body.chain!], ['web-key.pem', w.keyPem], ['roots.pem', signed.body.roots!]] as const) writeFileSync(join(dir.path, name), text, { mode: 0o600 });
  const c = await curl(['--cert', join(dir.path, 'web.pem'), '--key', join(dir.path, 'web-key.pem'), '--cacert', join(dir.path, 'roots.pem'), '--resolve', `orders:${inst.tlsPort}:127.0.0.1`, `https://orders:${inst.tlsPort}/`]);
  assert.equal(c.status, 200, c.stderr);
  assert.equal(JSON.parse(c.body).client, 'spiffe://mesh.local/service/web');
  const noCert = await curl(['--cacert', join(dir.path, 'roots.pem'), '--resolve', `orders:${inst.tlsPort}:127.0.0.1`, `https://orders:${inst.tlsPort}/`]);
  assert.notEqual(noCert.status, 200, 'no client certificate, no service');
  await run.stop('SIGTERM');
  assert.deepEqual((await reg.client.services()).services.map((x) => x.service), [], 'deregistered when it stopped');
});

test('root rotation under traffic (new root beside the old, issuer replaced, old root removed): zero failed requests', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('mesh-identity-rotate-');
  t.after(dir.cleanup);
  const m = await identityMesh(t, dir.path, '6s');
  const root2 = join(dir.path, 'root2');
  const issuer = m.pki.issuers[0]!;
  let stop = false;
  let ok = 0;
  const failed: string[] = [];
  const traffic = (async () => {
    while (!stop) {
      const r = await viaProxy(m.outPort, 'orders', '/r').catch((err: Error) => ({ status: 0, body: err.message }));
      if (r.status === 200) ok++; else failed.push(`${r.status} ${r.body}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  t.after(() => { stop = true; });
  const renewedAfter = async (d: Daemon, n: number) => {
    const base = count(d, /identity: renewed/);
    const deadline = Date.now() + 30_000;
    while (count(d, /identity: renewed/) < base + n) {
      if (Date.now() > deadline) throw new Error(`no ${n} renewals within 30 s:\n${d.stderr()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  // 1. A new root beside the old one: registries reload, proxies follow the bundle.
  const start = await runMesh(['certs', 'ca', 'rotate', '--ca-dir', m.pki.root, '--out', root2, '--issuer', issuer]);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /trust bundle now holds 2 roots/);
  await m.reg.daemon.waitFor(/identity: issuer reloaded \(.*2 roots in the trust bundle\)/, 20_000);
  await m.sidecar.waitFor(/identity: trust bundle changed \(2 roots\)/, 20_000);
  await m.proxy.waitFor(/identity: trust bundle changed \(2 roots\)/, 20_000);
  // Finishing before the issuer moved to the new root would break its leaves: refused.
  const early = await runMesh(['certs', 'ca', 'rotate', '--finish', '--ca-dir', root2, '--issuer', issuer]);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /is still signed by the old root/);
  // 2. The issuer is replaced by one under the new root; workloads move at their next renewals.
  const reissue = await runMesh(['certs', 'ca', 'issuer', '--ca-dir', root2, '--out', issuer, '--force']);
  assert.equal(reissue.code, 0, reissue.stderr);
  await eventually(() => count(m.reg.daemon, /identity: issuer reloaded/) >= 2, 20_000, 100);
  await Promise.all([renewedAfter(m.sidecar, 2), renewedAfter(m.proxy, 2)]);
  // 3. The old root goes.
  const finish = await runMesh(['certs', 'ca', 'rotate', '--finish', '--ca-dir', root2, '--issuer', issuer]);
  assert.equal(finish.code, 0, finish.stderr);
  await m.sidecar.waitFor(/identity: trust bundle changed \(1 roots\)/, 20_000);
  await m.proxy.waitFor(/identity: trust bundle changed \(1 roots\)/, 20_000);
  await Promise.all([renewedAfter(m.sidecar, 1), renewedAfter(m.proxy, 1)]);
  stop = true;
  await traffic;
  assert.deepEqual(failed, []);
  assert.ok(ok > 100, `traffic ran throughout (${ok} requests)`);
  // New leaves verify against the new root alone, and not against the old one.
  const w = await newWorkload();
  const signed = await signRaw(m.reg.url, { csr: w.csrPem, token: await createToken(m.reg.url, 'web') });
  assert.equal(opensslVerify(dir.path, signed.body.chain!, join(root2, 'ca.pem'))[0], 0);
  assert.notEqual(opensslVerify(dir.path, signed.body.chain!, m.pki.rootCert)[0], 0);
});

test('grpc-js with a registry-issued identity calls a --identity registry sidecar over mTLS; the app sees the caller', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('mesh-identity-grpc-');
  t.after(dir.cleanup);
  const pki = await makePki(dir.path);
  const reg = await startRegistry(t, { args: ['--issuer', pki.issuers[0]!, '--cert-ttl', '1h'] });
  const server = new grpc.Server();
  server.addService(ordersService, {
    Get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(String(call.metadata.get('x-mesh-client-id')[0]))),
    List: (call: grpc.ServerWritableStream<Buffer, Buffer>) => call.end(),
    Slow: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)),
    Fail: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)),
  });
  const appPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  t.after(() => server.forceShutdown());
  const sidecar = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', `127.0.0.1:${appPort}`, '--service', 'orders', '--identity', 'registry', '--registry', reg.url], { env: { MESH_IDENTITY_TOKEN: await createToken(reg.url, 'orders') } });
  t.after(async () => { await sidecar.stop('SIGKILL'); });
  const inPort = Number((await sidecar.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/))[1]);
  const w = await newWorkload();
  const signed = await signRaw(reg.url, { csr: w.csrPem, token: await createToken(reg.url, 'web') });
  // The server is checked by its SPIFFE ID, not a host name (its certificate has no DNS name).
  const creds = grpc.credentials.createSsl(Buffer.from(signed.body.roots!), Buffer.from(w.keyPem), Buffer.from(signed.body.chain!), {
    checkServerIdentity: (_host, cert) => (cert.subjectaltname === 'URI:spiffe://mesh.local/service/orders' ? undefined : new Error(`unexpected server ${cert.subjectaltname}`)),
  });
  const Client = grpc.makeGenericClientConstructor(ordersService, 'Orders');
  const client = new Client(`127.0.0.1:${inPort}`, creds) as unknown as grpc.Client & { Get: (req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Buffer) => void) => void };
  t.after(() => client.close());
  const reply = await new Promise<Buffer>((resolve, reject) => client.Get(Buffer.from('7'), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(reply.toString(), 'spiffe://mesh.local/service/web');
});
