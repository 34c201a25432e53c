// Tries to break the real proxy: garbage and malformed requests on raw sockets, smuggling and SSRF attempts,
// clients that vanish mid-exchange, upstreams that misbehave, slowloris and hundreds of idle connections.
// After each attack the proxy must still be alive and still answer a normal request correctly; at the end it
// must exit 0 on SIGTERM. Randomness is from a fixed seed.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../../src/core/clock.js';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';
import { eventually, freePort, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { getJson, register, startBackend, startProxy, viaProxy, type TestProxy } from '../helpers/proxy.js';

interface RawReply { text: string; closed: boolean; status: number }

/** Writes bytes on a fresh connection and collects what comes back until the proxy closes it (or timeoutMs). */
function raw(port: number, payload: Buffer | string | (Buffer | string)[], timeoutMs = 5_000): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, closed, status: m ? Number(m[1]) : 0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => { for (const p of Array.isArray(payload) ? payload : [payload]) socket.write(p); });
  });
}

/** The body of a raw HTTP/1.1 reply, de-chunked when it was sent chunked. */
function bodyOf(text: string): string {
  const split = text.indexOf('\r\n\r\n');
  let body = text.slice(split + 4);
  if (!/\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, split + 2))) return body;
  let out = '';
  for (;;) {
    const eol = body.indexOf('\r\n');
    const size = parseInt(body.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    body = body.slice(eol + 4 + size);
  }
}

function listen(server: NetServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** The backend the normal requests and abort attacks go to; records what it saw. */
function echoBackend() {
  const events: string[] = [];
  let hits = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    hits++;
    const url = req.url ?? '/';
    const note = (what: string) => events.push(`${url.split('?')[0]} ${what}`);
    if (url.startsWith('/upload')) {
      // Reads the body, answering only at its end: a client that vanishes mid-body must abort this request.
      req.on('aborted', () => note('aborted'));
      res.on('close', () => { if (!res.writableFinished) note('closed'); });
      req.resume();
      req.on('end', () => res.end('got it'));
      return;
    }
    if (url.startsWith('/hold')) {
      // Sends a first chunk (unless ?quiet) and then holds the response open until the client goes away.
      res.on('close', () => { if (!res.writableFinished) note('closed'); });
      note('started');
      if (!url.includes('quiet')) { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('first chunk\n'); }
      return;
    }
    if (url.startsWith('/trickle')) {
      // 20 bytes, one every 20 ms.
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const tick = setInterval(() => {
        res.write(String.fromCharCode(97 + n));
        if (++n === 20) { clearInterval(tick); res.end(); }
      }, 20);
      res.on('close', () => clearInterval(tick));
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, url }));
  });
  return { server, events, hits: () => hits };
}

/** A raw TCP upstream that answers every request with `behave(socket)`. */
function rawBackend(behave: (socket: Socket) => void): NetServer {
  return createNetServer((socket) => {
    socket.on('error', () => {});
    let seen = '';
    socket.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      if (seen.includes('\r\n\r\n')) { seen = ''; behave(socket); }
    });
  });
}

test('the proxy survives hostile clients and misbehaving upstreams', { timeout: 58_000 }, async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir();
  t.after(dir.cleanup);
  const config = join(dir.path, 'mesh.json');
  writeFileSync(config, JSON.stringify({
    services: {
      silent: { timeout: '1s', perTryTimeout: '300ms', retries: 0 },
      malformed: { retries: 0 },
      reset: { retries: 0 },
    },
  }));

  const echo = echoBackend();
  const echoPort = await listen(echo.server as unknown as NetServer);
  t.after(() => { echo.server.closeAllConnections(); echo.server.close(); });
  const upstreams: NetServer[] = [
    // Headers, part of the promised body, then a TCP reset.
    rawBackend((s) => { s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial'); setTimeout(() => s.resetAndDestroy(), 20); }),
    // Not HTTP at all.
    rawBackend((s) => { s.end('HTTP/1.1 abc this is not a status line\r\n\x00\x01\r\n\r\n'); }),
    // Accepts, reads, never answers.
    rawBackend(() => {}),
  ];
  const [resetPort, malformedPort, silentPort] = await Promise.all(upstreams.map(listen));
  t.after(() => { for (const u of upstreams) u.close(); });
  const silentSockets = new Set<Socket>();
  upstreams[2]!.on('connection', (s: Socket) => { silentSockets.add(s); s.on('close', () => silentSockets.delete(s)); });
  t.after(() => { for (const s of silentSockets) s.destroy(); });

  await register(reg.url, 'echo', { name: 'echo-1', address: `127.0.0.1:${echoPort}` });
  await register(reg.url, 'reset', { name: 'reset-1', address: `127.0.0.1:${resetPort}` });
  await register(reg.url, 'malformed', { name: 'malformed-1', address: `127.0.0.1:${malformedPort}` });
  await register(reg.url, 'silent', { name: 'silent-1', address: `127.0.0.1:${silentPort}` });
  const proxy: TestProxy = await startProxy(t, reg.url, ['--config', config, '--drain-timeout', '2s']);
  await eventually(async () => (await viaProxy(proxy.port, 'echo', '/')).status === 200, 5_000);

  // Slowloris runs alongside everything else: one header byte a second until the proxy gives up on it.
  const slowloris = (async () => {
    const socket = connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now())));
    const reply: Buffer[] = [];
    socket.on('data', (c: Buffer) => reply.push(c));
    const t0 = performance.now();
    const line = 'GET / HTTP/1.1\r\nHost: echo\r\nX-Slow: ' + 'a'.repeat(40);
    let i = 0;
    const drip = setInterval(() => { if (i < line.length && !socket.destroyed) socket.write(line[i++]!); }, 1_000);
    // The header timeout is 10 s, checked every second: 20 s is a generous bound.
    const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
    clearInterval(drip);
    socket.destroy();
    return { afterMs: at < 0 ? -1 : at - t0, reply: Buffer.concat(reply).toString('latin1') };
  })();

  const stderrCrashes = () => proxy.daemon.stderr().split('\n').filter((l) => /uncaught|unhandled|^\s+at |TypeError|RangeError|ERR_/.test(l));
  const healthy = async (what: string) => {
    assert.equal(proxy.daemon.child.exitCode, null, `the proxy died after: ${what}`);
    const r = await viaProxy(proxy.port, 'echo', '/normal?after=1', { timeoutMs: 5_000 });
    assert.equal(r.status, 200, `a normal request failed after: ${what}: ${r.body}`);
    assert.equal(JSON.parse(r.body).url, '/normal?after=1');
    assert.deepEqual(stderrCrashes(), [], `the proxy logged a crash after: ${what}`);
  };
  const inFlightZero = () => eventually(async () => {
    const snap = await getJson<RoutesSnapshot>(`${proxy.admin}/routes`);
    return snap.services.every((s) => s.inFlight === 0);
  }, 5_000);

  // A client's own misbehaviour (a broken body, a hang-up) must never count against the backend, or any client
  // could get healthy endpoints ejected.
  const echoNotBlamed = async (what: string) => {
    const snap = await getJson<RoutesSnapshot>(`${proxy.admin}/routes`);
    const ep = snap.services.find((s) => s.service === 'echo')!.endpoints[0]!;
    assert.equal(ep.consecutiveFailures, 0, `${what} counted as a backend failure`);
    assert.equal(ep.ejections, 0, `${what} got the backend ejected`);
  };

  await t.test('garbage and random binary on a connection', async () => {
    const random = seededRandom(42);
    for (let round = 0; round < 5; round++) {
      const bytes = Buffer.alloc(4096);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      const r = await raw(proxy.port, bytes);
      assert.ok(r.closed, 'the proxy left a garbage connection open');
      assert.ok(r.status === 0 || r.status === 400, r.text.slice(0, 100));
    }
    const text = await raw(proxy.port, 'hello there, this is not HTTP\r\n\r\n');
    assert.equal(text.status, 400);
    assert.ok(text.closed);
    await healthy('garbage');
  });

  await t.test('a 100 KB request line and 20 KB of headers → 431', async () => {
    const longLine = await raw(proxy.port, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: echo\r\n\r\n`);
    assert.ok(longLine.status === 431 || longLine.status === 414, longLine.text.slice(0, 200));
    assert.ok(longLine.closed);
    const headers = Array.from({ length: 200 }, (_, i) => `X-Pad-${i}: ${'b'.repeat(100)}\r\n`).join('');
    const big = await raw(proxy.port, `GET / HTTP/1.1\r\nHost: echo\r\n${headers}\r\n`);
    assert.equal(big.status, 431, big.text.slice(0, 200));
    assert.match(big.text, /x-mesh-error: bad-request/);
    await healthy('oversized request line and headers');
  });

  await t.test('invalid header names, CR/LF in values, two Hosts, CL+TE, bad Content-Length → 400', async () => {
    const cases: [string, string][] = [
      ['invalid header name', 'GET / HTTP/1.1\r\nHost: echo\r\nBad Header: x\r\n\r\n'],
      ['header name with a colon-less line', 'GET / HTTP/1.1\r\nHost: echo\r\nnocolon\r\n\r\n'],
      ['CR injection in a value', 'GET / HTTP/1.1\r\nHost: echo\r\nX-A: one\rInjected: yes\r\n\r\n'],
      ['NUL in a value', 'GET / HTTP/1.1\r\nHost: echo\r\nX-A: one\x00two\r\n\r\n'],
      ['two Host headers', 'GET / HTTP/1.1\r\nHost: echo\r\nHost: other\r\n\r\n'],
      ['Content-Length with Transfer-Encoding', 'POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['negative Content-Length', 'POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: -1\r\n\r\n'],
      ['non-numeric Content-Length', 'POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: abc\r\n\r\n'],
      ['two different Content-Lengths', 'POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
      ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n'],
    ];
    const before = echo.hits();
    for (const [what, payload] of cases) {
      const r = await raw(proxy.port, payload);
      assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /"code":"MESH_ERR_BAD_REQUEST"/, what);
    }
    // An LF alone ends a header line: whatever follows is its own header, never part of the value sent upstream.
    const lf = await raw(proxy.port, 'GET /lf HTTP/1.1\r\nHost: echo\r\nX-A: one\nInjected: yes\r\nConnection: close\r\n\r\n');
    if (lf.status === 200) assert.doesNotMatch(lf.text, /one\\n|one\\r/);
    else assert.equal(lf.status, 400);
    assert.ok(echo.hits() - before <= 1, 'a malformed request reached the backend');
    await healthy('malformed headers');
  });

  await t.test('a malformed chunked body mid-stream', async () => {
    const bodies = [
      ['bad chunk size', ['POST /upload HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n', 'zz\r\nxx\r\n']],
      ['missing CRLF after a chunk', ['POST /upload HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello', 'XX3\r\nabc\r\n0\r\n\r\n']],
    ] as const;
    // Three rounds of each: six in a row would pass the default outlier threshold (5) if they were blamed.
    for (let round = 0; round < 3; round++) {
      for (const [what, parts] of bodies) {
        const r = await raw(proxy.port, [...parts]);
        assert.ok(r.closed, `${what}: the connection was left open`);
        assert.ok(r.status === 0 || r.status === 400, `${what}: ${r.text.slice(0, 200)}`);
      }
    }
    await inFlightZero();
    await echoNotBlamed('a malformed request body');
    await healthy('malformed chunked bodies');
  });

  await t.test('absolute-form URIs and CONNECT never dial the named authority', async () => {
    const before = echo.hits();
    for (const target of ['http://169.254.169.254/latest/meta-data/', `http://127.0.0.1:${echoPort}/`, `http://localhost:${echoPort}/`, `http://[::1]:${echoPort}/`]) {
      const r = await raw(proxy.port, `GET ${target} HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 503, `${target}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /x-mesh-error: no-such-service/);
    }
    const ftp = await raw(proxy.port, 'GET ftp://echo/ HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n');
    assert.equal(ftp.status, 400);
    for (const authority of [`127.0.0.1:${echoPort}`, 'echo:80', '169.254.169.254:443']) {
      const r = await raw(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      assert.equal(r.status, 405, `CONNECT ${authority}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /x-mesh-error: method-not-allowed/);
      assert.ok(r.closed, 'a CONNECT left a tunnel open');
    }
    assert.equal(echo.hits(), before, 'the backend was dialled for a non-mesh authority');
    await healthy('absolute-form and CONNECT');
  });

  await t.test('path tricks are normalised and routed', async () => {
    for (const [path, expect] of [['/a/../ok', '/ok'], ['/%2e%2e/ok', '/ok'], ['//ok//x', '/ok/x'], ['/../../etc/passwd', '/etc/passwd'], ['/a/%2E%2E/%2e/b', '/b'], ['/%2F%2f', '/%2F%2F']]) {
      const r = await raw(proxy.port, `GET ${path} HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 200)}`);
      assert.equal(JSON.parse(bodyOf(r.text)).url, expect, path);
    }
    await healthy('path tricks');
  });

  await t.test('client aborts: mid-request-body, mid-response-body, right after the headers', async () => {
    echo.events.length = 0;
    // Mid-request-body: 1 KB of a promised 1 MB, then the client is gone.
    const up = connect(proxy.port, '127.0.0.1');
    up.on('error', () => {});
    up.write('POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: 1000000\r\n\r\n');
    up.write(Buffer.alloc(1024, 1));
    await eventually(async () => (await getJson<RoutesSnapshot>(`${proxy.admin}/routes`)).services.some((s) => s.inFlight > 0), 5_000);
    up.destroy();
    await eventually(() => echo.events.some((e) => e.startsWith('/upload')), 5_000);
    await inFlightZero();
    await echoNotBlamed('a client hang-up mid-request-body');

    // Mid-response-body: the first chunk arrives, then the client is gone.
    const down = connect(proxy.port, '127.0.0.1');
    down.on('error', () => {});
    const gotChunk = new Promise<void>((r) => down.once('data', () => r()));
    down.write('GET /hold HTTP/1.1\r\nHost: echo\r\n\r\n');
    await gotChunk;
    down.destroy();
    await eventually(() => echo.events.includes('/hold closed'), 5_000);
    await inFlightZero();
    await echoNotBlamed('a client hang-up mid-response-body');

    // Right after the headers: the backend has the request but has answered nothing yet.
    const early = connect(proxy.port, '127.0.0.1');
    early.on('error', () => {});
    early.write('GET /hold?quiet HTTP/1.1\r\nHost: echo\r\n\r\n');
    await eventually(() => echo.events.filter((e) => e === '/hold started').length === 2, 5_000);
    early.destroy();
    await eventually(() => echo.events.filter((e) => e === '/hold closed').length === 2, 5_000);
    await inFlightZero();
    await echoNotBlamed('a client hang-up after the headers');

    await healthy('client aborts');
  });

  await t.test('upstream misbehaviour: reset after headers, malformed response, silence, byte-by-byte', async () => {
    const reset = await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: reset\r\n\r\n');
    assert.ok(reset.closed, 'a reset upstream left the client hanging');
    // The status line was already forwarded: the only honest signal left is a short body and a closed connection.
    if (reset.status === 200) assert.ok(bodyOf(reset.text).length < 1000, 'a truncated body looked whole');
    else assert.equal(reset.status, 502, reset.text.slice(0, 200));

    const bad = await viaProxy(proxy.port, 'malformed', '/', { timeoutMs: 5_000 });
    assert.equal(bad.status, 502, bad.body);
    assert.ok(bad.headers['x-mesh-error'], 'a malformed upstream response had no x-mesh-error');

    const t0 = performance.now();
    const silent = await viaProxy(proxy.port, 'silent', '/', { timeoutMs: 5_000 });
    assert.equal(silent.status, 504, silent.body);
    assert.equal(silent.headers['x-mesh-error'], 'upstream-timeout');
    assert.ok(performance.now() - t0 < 4_000, 'the per-try timeout did not apply');

    const slow = await viaProxy(proxy.port, 'echo', '/trickle', { timeoutMs: 5_000 });
    assert.equal(slow.status, 200);
    assert.equal(slow.body, 'abcdefghijklmnopqrst');

    await inFlightZero();
    await healthy('misbehaving upstreams');
  });

  await t.test('500 idle connections do not stop normal requests', async () => {
    const idle: Socket[] = [];
    t.after(() => { for (const s of idle) s.destroy(); });
    await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve) => {
      const s = connect(proxy.port, '127.0.0.1');
      s.on('error', () => resolve());
      s.once('connect', () => resolve());
      idle.push(s);
    })));
    // Half of them also start a request and stop after the request line.
    for (const s of idle.slice(0, 250)) s.write('GET / HTTP/1.1\r\n');
    for (let i = 0; i < 20; i++) await healthy(`500 idle connections (request ${i})`);
    assert.ok(idle.filter((s) => !s.destroyed).length > 400, 'the idle connections were not held open');
  });

  await t.test('slowloris is cut off by the header timeout without blocking others', async () => {
    const s = await slowloris;
    assert.ok(s.afterMs > 0, 'a slowloris connection was still open after 20 s');
    assert.ok(s.reply === '' || /^HTTP\/1\.1 408/.test(s.reply), s.reply.slice(0, 200));
    await healthy('slowloris');
  });

  await t.test('SIGTERM → exit 0', async () => {
    const exit = await proxy.daemon.stop('SIGTERM', 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, proxy.daemon.stderr());
    // Lifecycle lines only: no line per refused request, abort or upstream failure.
    const lines = proxy.daemon.stderr().trim().split('\n');
    assert.ok(lines.length < 12, `the proxy logged per request:\n${lines.join('\n')}`);
  });
});

test('a proxy started while its registry is down keeps running, then routes once the registry comes up', { timeout: 60_000 }, async (t) => {
  // Nothing listens on this port yet: the proxy's first sync fails with ECONNREFUSED and is retried.
  const registryPort = await freePort();
  const proxy = await startProxy(t, `http://127.0.0.1:${registryPort}`);
  // It used to exit 0 here, silently: only unref'd timers were left while it waited for its first table.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(proxy.daemon.child.exitCode, null, 'the proxy is still running');
  assert.ok(await getJson<unknown>(`${proxy.admin}/healthz`), 'its admin server answers');
  const reg = await startRegistry(t, { args: ['--listen', `127.0.0.1:${registryPort}`] });
  const b = await startBackend(t, 'late-a');
  await register(reg.url, 'late', b);
  await eventually(async () => (await viaProxy(proxy.port, 'late', '/x')).status === 200, 20_000);
});
