// HTTP/2 sessions through a real proxy (bin/mesh): the flow-control windows a real client and a real backend
// see on their sessions with the proxy, a large body through them, and many concurrent streams multiplexed on
// few upstream sessions. The backend here is a node:http2 server in the test process (real loopback sockets)
// so it can report what its sessions saw.
import assert from 'node:assert/strict';
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { h2Request, h2Session } from '../helpers/h2-backend.js';
import { startRegistry } from '../helpers/registry.js';
import { register, startProxy } from '../helpers/proxy.js';

const MiB = 1 << 20;

interface SessionBackend { server: Http2Server; address: string; sessions: ServerHttp2Session[] }

/** A node:http2 backend: /window reports its session's view of the proxy, /big answers 4 MiB, others "ok". */
async function startSessionBackend(t: { after(fn: () => void): void }, settings: { maxConcurrentStreams?: number } = {}): Promise<SessionBackend> {
  const server = createServer({ settings });
  const sessions: ServerHttp2Session[] = [];
  server.on('session', (s: ServerHttp2Session) => { sessions.push(s); s.on('error', () => undefined); });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const session = stream.session!;
    if (headers[':path'] === '/window') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ streamWindow: session.remoteSettings.initialWindowSize, connectionWindow: session.state.remoteWindowSize }));
    } else if (headers[':path'] === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(4 * MiB, 7));
    } else {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of sessions) s.destroy(); server.close(); });
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
