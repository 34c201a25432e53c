// What the proxy passes on and what it drops, through the real bin/mesh with real clients: an `Upgrade: h2c`
// (curl --http2) is answered over HTTP/1.1 by the balanced pool and never reaches a backend that would accept
// it; only WebSocket is tunnelled; request headers with an underscore are dropped (and counted) on HTTP/1.1,
// WebSocket and h2 unless the service opts in; the inbound sidecar applies the same rules to its app.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as http2Connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { curl } from '../helpers/curl.js';
import { eventually, freePort, runMesh, startMesh, tempDir } from '../helpers/mesh.js';
import { get, register, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { makePki } from '../unit/tls/pki.js';

type After = { after(fn: () => Promise<void> | void): void };

/** What a backend saw of one request: its raw header names (lower-cased) and values. */
interface Seen { url: string; upgrade: boolean; headers: Record<string, string>; trailers: Record<string, string> }

/**
 * A backend that would accept any upgrade: it answers 101 to `Upgrade: h2c` (and to WebSocket), as an h2c-capable
 * server does, and records every request and upgrade it sees. Plain requests get `<name> <url> <body>`.
 */
async function upgradeBackend(t: After, name: string): Promise<{ address: string; name: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const record = (req: IncomingMessage, upgrade: boolean) => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
    const s: Seen = { url: req.url ?? '', upgrade, headers, trailers: {} };
    seen.push(s);
    return s;
  };
  const server: Server = createServer((req, res) => {
    const s = record(req, false);
    let body = '';
    req.setEncoding('latin1').on('data', (d: string) => { body += d; }).on('end', () => {
      Object.assign(s.trailers, req.trailers);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-instance': name });
      res.end(`${name} ${req.url} ${body}`);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    record(req, true);
    const token = String(req.headers.upgrade).split(',')[0]!.trim();
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\nx-instance: ${name}\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, name, seen };
}

/** A plain h2c backend that reads the request and answers with its headers and trailers, as JSON. */
async function h2EchoBackend(t: After): Promise<string> {
  const server: Http2Server = createH2Server();
  server.on('stream', (stream, headers) => {
    let trailers = {};
    stream.on('trailers', (tr: object) => { trailers = tr; });
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ ...headers, trailers }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Writes `payload` on a fresh connection and returns everything that comes back until the peer closes. */
function rawExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(payload));
    let out = '';
    const timer = setTimeout(() => { s.destroy(); resolve(out); }, 5_000);
    s.setEncoding('latin1').on('data', (d: string) => { out += d; }).on('close', () => { clearTimeout(timer); resolve(out); }).on('error', reject);
  });
}

/** curl's `-w` lines after each body: "<http_version> <status>". */
const WRITE_OUT = ['-w', '\n=> %{http_version} %{http_code}\n'];
function answers(stdout: string): Array<{ body: string; version: string; status: number }> {
  return [...stdout.matchAll(/(.*)\n=> (\S+) (\d+)\n/g)].map((m) => ({ body: m[1]!, version: m[2]!, status: Number(m[3]) }));
}

function upgradeHeadersSeen(seen: Seen[]): string[] {
  return seen.flatMap((s) => Object.keys(s.headers).filter((h) => h === 'upgrade' || h === 'http2-settings').map((h) => `${s.url}: ${h}: ${s.headers[h]}`));
}

test('Upgrade: h2c is never passed on: curl --http2 gets HTTP/1.1 200 from the balanced pool; only WebSocket is tunnelled', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await upgradeBackend(t, 'h2up-a');
  const b = await upgradeBackend(t, 'h2up-b');
  await register(reg.url, 'h2up', a);
  await register(reg.url, 'h2up', b);
  const proxy = await startProxy(t, reg.url);
  await eventually(async () => (await viaProxy(proxy.port, 'h2up', '/warm')).status === 200, 10_000);
  await eventually(async () => (await get(`${proxy.admin}/routes`)).body.includes('h2up-b'), 10_000);

  await t.test('four requests from curl --http2 on one connection are answered over HTTP/1.1 by both instances', async () => {
    const url = (p: string) => `http://127.0.0.1:${proxy.port}${p}`;
    const r = await curl(['-v', '--http2', '-H', 'Host: h2up', ...WRITE_OUT, url('/1'), url('/2'), url('/3'), url('/4')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /> Upgrade: h2c/i, 'curl offered h2c');
    assert.match(r.stderr, /Re-using existing connection/, 'the connection stayed open for the next request');
    const got = answers(r.stdout);
    assert.deepEqual(got.map((x) => `${x.version} ${x.status}`), ['1.1 200', '1.1 200', '1.1 200', '1.1 200']);
    // Round robin over the pool: a tunnel would have pinned the connection to one instance.
    assert.deepEqual(new Set(got.map((x) => x.body.split(' ')[0])), new Set(['h2up-a', 'h2up-b']));
    assert.deepEqual(upgradeHeadersSeen([...a.seen, ...b.seen]), []);
    assert.equal([...a.seen, ...b.seen].filter((s) => s.upgrade).length, 0);
  });

  await t.test('a POST with Upgrade: h2c and a body, with a request pipelined behind it', async () => {
    const out = await rawExchange(proxy.port, 'POST /posted HTTP/1.1\r\nHost: h2up\r\nConnection: Upgrade, HTTP2-Settings, X-Hop\r\nUpgrade: h2c\r\n'
      + 'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nX-Hop: 1\r\nContent-Length: 5\r\n\r\nhello'
      + 'GET /behind HTTP/1.1\r\nHost: h2up\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade, close\r\n\r\n');
    const statuses = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200'], out);
    assert.match(out, / \/posted hello/);
    assert.match(out, / \/behind /);
    const seen = [...a.seen, ...b.seen].filter((s) => s.url === '/posted' || s.url === '/behind');
    assert.equal(seen.length, 2);
    assert.deepEqual(upgradeHeadersSeen(seen), []);
    assert.ok(seen.every((s) => s.headers['x-hop'] === undefined && s.headers.connection !== 'Upgrade, HTTP2-Settings, X-Hop'));
  });

  await t.test('Upgrade: websocket, h2c is tunnelled as WebSocket only', async () => {
    const out = await rawExchange(proxy.port, 'GET /ws HTTP/1.1\r\nHost: h2up\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: websocket, h2c\r\n'
      + 'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 101 /);
    const ws = [...a.seen, ...b.seen].find((s) => s.url === '/ws');
    assert.ok(ws?.upgrade, 'the backend got the upgrade');
    assert.equal(ws.headers.upgrade, 'websocket');
    assert.equal(ws.headers['http2-settings'], undefined);
    assert.equal(ws.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  });
});

test('request headers with an underscore are dropped and counted on HTTP/1.1, WebSocket and h2, unless the service allows them', { timeout: 45_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const reg = await startRegistry(t);
  const orders = await upgradeBackend(t, 'orders-1');
  const legacy = await upgradeBackend(t, 'legacy-1');
  const h2 = await h2EchoBackend(t);
  await register(reg.url, 'orders', orders);
  await register(reg.url, 'legacy', legacy);
  await register(reg.url, 'grpcish', { address: h2, name: 'grpcish-1' });
  const config = join(dir.path, 'mesh.yaml');
  writeFileSync(config, 'services:\n  legacy:\n    allowUnderscoresInHeaders: true\n');
  const proxy = await startProxy(t, reg.url, ['--config', config]);
  await eventually(async () => (await get(`${proxy.admin}/routes`)).body.includes('grpcish-1'), 10_000);

  const spoof = { x_user: 'admin', 'X-User': 'alice', 'x_role_name': 'root' };
  assert.equal((await viaProxy(proxy.port, 'orders', '/h1', { headers: spoof })).status, 200);
  assert.equal((await viaProxy(proxy.port, 'legacy', '/h1', { headers: spoof })).status, 200);
  const h1 = orders.seen.find((s) => s.url === '/h1')!;
  assert.equal(h1.headers['x-user'], 'alice');
  assert.equal(h1.headers.x_user, undefined);
  assert.equal(h1.headers.x_role_name, undefined);
  assert.equal(legacy.seen.find((s) => s.url === '/h1')!.headers.x_user, 'admin', 'allowUnderscoresInHeaders: true forwards them');

  // A WebSocket handshake follows the same rule.
  const ws = await rawExchange(proxy.port, 'GET /ws HTTP/1.1\r\nHost: orders\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nx_user: admin\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  assert.match(ws, /^HTTP\/1\.1 101 /);
  assert.equal(orders.seen.find((s) => s.url === '/ws')!.headers.x_user, undefined);

  // HTTP/2 (curl with prior knowledge) too.
  const r = await curl(['--http2-prior-knowledge', '-H', 'Host: grpcish', '-H', 'x_user: admin', '-H', 'x-user: alice', `http://127.0.0.1:${proxy.port}/h2`]);
  assert.equal(r.code, 0, r.stderr);
  const h2Seen = JSON.parse(r.stdout) as Record<string, string>;
  assert.equal(h2Seen['x-user'], 'alice');
  assert.equal(h2Seen.x_user, undefined);

  // Request trailers are not forwarded at all (HTTP/1.1 chunked, and h2), so no header can ride in one.
  const chunked = await rawExchange(proxy.port, 'POST /trailer HTTP/1.1\r\nHost: orders\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\nConnection: close\r\n\r\n'
    + '5\r\nhello\r\n0\r\nx-sum: 1\r\nx-user: admin\r\n\r\n');
  assert.match(chunked, /^HTTP\/1\.1 200 /);
  assert.deepEqual(orders.seen.find((s) => s.url === '/trailer')!.trailers, {});
  const h2Trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const session = http2Connect(`http://127.0.0.1:${proxy.port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': '/h2-trailer', ':authority': 'grpcish' }, { waitForTrailers: true });
    req.on('wantTrailers', () => req.sendTrailers({ 'x-user': 'admin' }));
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => { session.close(); resolve(JSON.parse(body) as Record<string, unknown>); });
    req.on('error', reject);
    req.end('hello');
  });
  assert.deepEqual(h2Trailers.trailers, {});

  // Counted per service: 2 (HTTP/1.1) + 1 (WebSocket) for orders, 1 for the h2 service, none for legacy.
  const metrics = (await eventually(async () => {
    const body = (await get(`${proxy.admin}/metrics`)).body;
    return body.includes('mesh_request_headers_dropped_total{service="grpcish",reason="underscore"} 1') ? body : undefined;
  }))!;
  assert.match(metrics, /^mesh_request_headers_dropped_total\{service="orders",reason="underscore"\} 3$/m);
  assert.match(metrics, /^mesh_request_headers_dropped_total\{service="legacy",reason="underscore"\} 0$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);

  // `mesh routes explain` says what would be dropped, and where underscores are allowed.
  const explained = await runMesh(['routes', 'explain', 'http://orders/x', '-H', 'x_user: admin', '--proxy', proxy.admin]);
  assert.equal(explained.code, 0, explained.stderr);
  assert.match(explained.stdout, /headers\s+names with "_" are dropped \(allowUnderscoresInHeaders: false\); dropping x_user/);
  const allowed = await runMesh(['routes', 'explain', 'http://legacy/x', '-H', 'x_user: admin', '--proxy', proxy.admin, '--json']);
  assert.deepEqual(JSON.parse(allowed.stdout).headerRules, { underscores: 'forwarded', dropped: [] });
});

test('the inbound sidecar: Upgrade answered over HTTP/1.1 on a kept connection, underscore headers dropped and counted', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('mesh-protocol-sidecar-');
  t.after(dir.cleanup);
  const pki = await makePki(dir.path, 'mesh');
  const orders = await pki.leaf('orders');
  const web = await pki.leaf('web');
  const app = await upgradeBackend(t, 'app');
  const start = async (extra: string[]) => {
    const d = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', app.address, '--service', 'orders', '--cert', orders.cert, '--key', orders.key, '--ca', pki.caPath, ...extra]);
    t.after(async () => { await d.stop('SIGKILL'); });
    return Number((await d.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/))[1]);
  };
  const adminPort = await freePort();
  const port = await start(['--permissive', '--inbound-admin', `127.0.0.1:${adminPort}`]);

  // Plaintext (--permissive): curl --http2 offers h2c; both requests are answered over HTTP/1.1 on one connection.
  const plain = await curl(['-v', '--http2', '-H', 'x_user: admin', ...WRITE_OUT, `http://127.0.0.1:${port}/p1`, `http://127.0.0.1:${port}/p2`]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /> Upgrade: h2c/i);
  assert.match(plain.stderr, /Re-using existing connection/);
  assert.deepEqual(answers(plain.stdout).map((x) => `${x.version} ${x.status} ${x.body.split(' ')[1]}`), ['1.1 200 /p1', '1.1 200 /p2']);

  // mTLS: a WebSocket upgrade is not tunnelled by the sidecar either; the next request on the connection is served.
  const tls = await curl(['-v', '--http1.1', '--cert', web.cert, '--key', web.key, '--cacert', pki.caPath, '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket',
    '-H', 'x_user: admin', ...WRITE_OUT, `https://localhost:${port}/t1`, `https://localhost:${port}/t2`]);
  assert.equal(tls.code, 0, tls.stderr);
  assert.match(tls.stderr, /Re-using existing connection/);
  assert.deepEqual(answers(tls.stdout).map((x) => `${x.version} ${x.status} ${x.body.split(' ')[1]}`), ['1.1 200 /t1', '1.1 200 /t2']);

  const seen = app.seen.filter((s) => /^\/[pt][12]$/.test(s.url));
  assert.equal(seen.length, 4);
  assert.deepEqual(upgradeHeadersSeen(seen), []);
  assert.ok(seen.every((s) => !s.upgrade && s.headers.x_user === undefined));
  const metrics = (await get(`http://127.0.0.1:${adminPort}/metrics`)).body;
  assert.match(metrics, /^mesh_inbound_request_headers_dropped_total\{service="orders",reason="underscore"\} 4$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);

  // The service's allowUnderscoresInHeaders in --config applies to its sidecar.
  const config = join(dir.path, 'mesh.json');
  writeFileSync(config, JSON.stringify({ services: { orders: { allowUnderscoresInHeaders: true } } }));
  const allowing = await start(['--permissive', '--config', config]);
  const r = await curl(['-H', 'x_user: admin', `http://127.0.0.1:${allowing}/allowed`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(app.seen.find((s) => s.url === '/allowed')!.headers.x_user, 'admin');
});
