// The registry client's one-shot calls over node:http (http-call.ts), against real loopback servers: errors
// keep their codes, a silent registry times out, and a keep-alive socket the server closed while idle is
// retried once instead of failing the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MeshError } from '../../../src/core/errors.js';
import { RegistryClient } from '../../../src/registry/client.js';

async function listen(t: { after(fn: () => unknown): void }, server: Server): Promise<string> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('an API error keeps its code and message; a 2xx body is parsed', async (t) => {
  const url = await listen(t, createServer((req, res) => {
    if (req.url === '/v1/status') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"version":"x"}'); return; }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"MESH_ERR_NOT_FOUND","message":"no instance orders/x"}}');
  }));
  const client = new RegistryClient({ url });
  t.after(() => client.close());
  assert.equal((await client.status()).version, 'x');
  await assert.rejects(client.deregister('orders', 'x'), (err: unknown) =>
    err instanceof MeshError && err.code === 'MESH_ERR_NOT_FOUND' && err.message === 'no instance orders/x' && err.status === 404);
});

test('a registry that accepts but never answers fails the call after timeoutMs', async (t) => {
  const url = await listen(t, createServer(() => { /* never answers */ }));
  const client = new RegistryClient({ url, timeoutMs: 200 });
  t.after(() => client.close());
  await assert.rejects(client.services(), (err: unknown) =>
    err instanceof MeshError && err.code === 'MESH_ERR_REGISTRY_UNREACHABLE' && /is unreachable \(ETIMEDOUT\)/.test(err.message));
});

test('a kept-alive socket the server closed is retried once on a new one', async (t) => {
  const perSocket = new WeakMap<object, number>();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    // A second request on a kept-alive socket finds it closed, as when the server's idle timeout fired just
    // before the client reused it: the connection drops without an answer.
    if (n > 1) { req.socket.destroy(); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"index":1,"services":[]}');
  });
  const url = await listen(t, server);
  const client = new RegistryClient({ url });
  t.after(() => client.close());
  await client.services();
  assert.deepEqual(await client.services(), { index: 1, services: [] }, 'the second call succeeds on a new socket');
  assert.equal(requests, 3, 'one request on the first socket, one lost on its reuse, one on a new socket');
});
