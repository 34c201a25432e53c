// HTTP/2 sessions through a real proxy (bin/mesh): the flow-control windows a real client and a real backend
// see on their sessions with the proxy, a large body through them, and many concurrent streams multiplexed on
// few upstream sessions. The backend here is a node:http2 server in the test process (real loopback sockets)
// so it can report what its sessions saw.
import assert from 'node:assert/strict';
import { createServer, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { h2Request, h2Session } from '../helpers/h2-backend.js';
import { startRegistry } from '../helpers/registry.js';
import { register, startProxy } from '../helpers/proxy.js';

const MiB = 1 << 20;

interface SessionBackend { server: Http2Server; address: string; sessions: ServerHttp2Session[] }

/**
 * A node:http2 backend: /window reports its session's view of the proxy, /big answers 4 MiB, /hold keeps each
 * stream open until `holdFor` streams are open at once (or 3 s have passed) and then answers all of them with
 * how many were open; others "ok".
 */
async function startSessionBackend(t: { after(fn: () => void): void }, settings: { maxConcurrentStreams?: number } = {}, holdFor = 0): Promise<SessionBackend> {
  const server = createServer({ settings });
  const sessions: ServerHttp2Session[] = [];
  const held: ServerHttp2Stream[] = [];
  let holdTimer: NodeJS.Timeout | undefined;
  const release = (): void => {
    clearTimeout(holdTimer);
    const open = held.length;
    for (const s of held.splice(0)) { s.respond({ ':status': 200 }); s.end(String(open)); }
  };
  server.on('session', (s: ServerHttp2Session) => { sessions.push(s); s.on('error', () => undefined); });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const session = stream.session!;
    if (headers[':path'] === '/window') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ streamWindow: session.remoteSettings.initialWindowSize, connectionWindow: session.state.remoteWindowSize }));
    } else if (headers[':path'] === '/hold') {
      held.push(stream);
      if (held.length === 1) holdTimer = setTimeout(release, 3_000);
      if (held.length === holdFor) release();
    } else if (headers[':path'] === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(4 * MiB, 7));
    } else {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { clearTimeout(holdTimer); for (const s of sessions) s.destroy(); server.close(); });
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, sessions };
}

test('h2 flow-control windows: client and backend see 1 MiB per stream and 16 MiB per connection from the proxy; a 4 MiB body arrives whole', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const backend = await startSessionBackend(t);
  await register(reg.url, 'win', { name: 'win-1', address: backend.address });
  const proxy = await startProxy(t, reg.url);
  const session = h2Session(t, proxy.port);
  await new Promise((r) => session.once('remoteSettings', r));
  assert.equal(session.remoteSettings.initialWindowSize, MiB, "the proxy's SETTINGS_INITIAL_WINDOW_SIZE");
  // The connection window opens with a WINDOW_UPDATE on stream 0, sent with the SETTINGS: a PING answered
  // after it proves it has arrived.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  assert.equal(session.state.remoteWindowSize, 16 * MiB, "the proxy's connection window");

  const seen = await h2Request(session, 'win', '/window');
  assert.equal(seen.status, 200);
  assert.deepEqual(JSON.parse(seen.body.toString()), { streamWindow: MiB, connectionWindow: 16 * MiB }, "the windows the backend's session sees from the proxy");

  const big = await h2Request(session, 'win', '/big');
  assert.equal(big.status, 200);
  assert.equal(big.body.length, 4 * MiB);
  assert.ok(big.body.every((b) => b === 7));
});

test('streams past an endpoint\'s SETTINGS_MAX_CONCURRENT_STREAMS go on new upstream sessions instead of queueing: 40 at once to a backend allowing 10 per session', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const backend = await startSessionBackend(t, { maxConcurrentStreams: 10 }, 40);
  await register(reg.url, 'narrow', { name: 'narrow-1', address: backend.address });
  const proxy = await startProxy(t, reg.url);
  const session = h2Session(t, proxy.port);
  // A first call settles the upstream session, so the proxy knows the backend's limit.
  assert.equal((await h2Request(session, 'narrow', '/')).status, 200);
  const replies = await Promise.all(Array.from({ length: 40 }, () => h2Request(session, 'narrow', '/hold')));
  // Each stream was answered only once all 40 were open at the backend together (not after the 3 s fallback).
  assert.deepEqual(replies.map((r) => `${r.status} ${r.body.toString()}`), Array.from({ length: 40 }, () => '200 40'));
  assert.equal(backend.sessions.filter((s) => !s.closed).length, 4, '10 streams per session: 4 upstream sessions');

  // Fewer streams than the limit share one session: no new session is dialled for them.
  const again = await Promise.all(Array.from({ length: 8 }, () => h2Request(session, 'narrow', '/')));
  assert.ok(again.every((r) => r.status === 200));
  assert.equal(backend.sessions.length, 4);
});

test('many concurrent streams to an endpoint without a low limit are multiplexed on one upstream session', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const backend = await startSessionBackend(t, {}, 64);
  await register(reg.url, 'wide', { name: 'wide-1', address: backend.address });
  const proxy = await startProxy(t, reg.url);
  const clients = [h2Session(t, proxy.port), h2Session(t, proxy.port)];
  const replies = await Promise.all(Array.from({ length: 64 }, (_, i) => h2Request(clients[i % 2]!, 'wide', '/hold')));
  assert.deepEqual(new Set(replies.map((r) => `${r.status} ${r.body.toString()}`)), new Set(['200 64']));
  assert.equal(backend.sessions.length, 1);
});
