// The listener's protections, on a real socket with a stub directory: slowloris headers time out with 408.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { seededRandom } from '../../../src/core/clock.js';
import { DEFAULT_CONFIG } from '../../../src/config/proxy-config.js';
import { UpstreamPools } from '../../../src/proxy/upstream/pools.js';
import { createProxyServer } from '../../../src/proxy/http1/server.js';

test('a client that trickles its headers gets 408 after headersTimeout', { timeout: 10_000 }, async (t) => {
  const server = createProxyServer({
    directory: { get: () => undefined }, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG,
    random: seededRandom(1), draining: () => false, tunnels: new Set(),
  }, { headersTimeoutMs: 500, requestTimeoutMs: 1000 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const port = (server.address() as { port: number }).port;
  const t0 = performance.now();
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: orders\r\nX-Slow: '));
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 408/);
  assert.match(reply, /x-mesh-error: bad-request/);
  assert.ok(performance.now() - t0 < 5_000);
});

test('a request for an unknown service is answered 503 without touching any upstream', { timeout: 10_000 }, async (t) => {
  const server = createProxyServer({
    directory: { get: () => undefined }, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG,
    random: seededRandom(1), draining: () => false, tunnels: new Set(),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const port = (server.address() as { port: number }).port;
  const res = await fetch(`http://127.0.0.1:${port}/x`, { headers: { host: 'ghost' } });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-mesh-error'), 'no-such-service');
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MESH_ERR_NO_SUCH_SERVICE');
});
