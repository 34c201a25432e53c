// Routing through a real `mesh proxy start`: absolute-form and Host routing, round-robin spread, header
// handling (hop-by-hop, X-Forwarded-*), trailers, HEAD, malformed requests, and the mesh error answers.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startRegistry } from '../helpers/registry.js';
import { getJson, instanceOf, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('\r\n\r\n')) { s.destroy(); resolve(out); } });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.setTimeout(5_000, () => { s.destroy(); reject(new Error('raw request timed out')); });
  });
}

test('proxy routes by absolute URI and Host, spreads round-robin, and answers mesh errors', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'orders-a');
  const b = await startBackend(t, 'orders-b');
  await register(reg.url, 'orders', a);
  await register(reg.url, 'orders', b);
  const proxy = await startProxy(t, reg.url);

  await t.test('absolute-form and Host (with .mesh and a port) reach the service', async () => {
    for (const [service, via] of [['orders', 'absolute'], ['orders', 'host'], ['orders.mesh', 'host'], ['orders.mesh:8080', 'host'], ['ORDERS:80', 'absolute']] as const) {
      const r = await viaProxy(proxy.port, service, '/hello?x=1', { via });
      assert.equal(r.status, 200, `${service} via ${via}: ${r.body}`);
      assert.match(instanceOf(r), /^orders-[ab]$/);
      assert.equal(JSON.parse(r.body).url, '/hello?x=1');
    }
  });

  await t.test('round-robin spreads evenly', async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const r = await viaProxy(proxy.port, 'orders', '/');
      counts.set(instanceOf(r), (counts.get(instanceOf(r)) ?? 0) + 1);
    }
    assert.equal(counts.get('orders-a'), 100);
    assert.equal(counts.get('orders-b'), 100);
  });

  await t.test('paths are normalised before forwarding', async () => {
    const r = await viaProxy(proxy.port, 'orders', '/a/./b/../c//d/%2e%2e/e?q=%2e');
    assert.equal(JSON.parse(r.body).url, '/a/c/e?q=%2e');
  });

  await t.test('hop-by-hop headers are stripped both ways and X-Forwarded-* set', async () => {
    const r = await viaProxy(proxy.port, 'orders', '/hop', {
      via: 'host',
      headers: { connection: 'keep-alive, x-drop-me', 'x-drop-me': '1', 'proxy-authorization': 'Basic eA==', te: 'trailers', 'x-keep': 'yes', 'x-forwarded-for': '10.0.0.9' },
    });
    const seen = JSON.parse(r.body).headers as Record<string, string>;
    assert.equal(seen['x-drop-me'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen.te, undefined);
    assert.equal(seen['x-keep'], 'yes');
    assert.equal(seen['x-forwarded-for'], '10.0.0.9, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'orders');
    assert.equal(seen.host, 'orders');
    assert.equal(r.headers['x-secret'], undefined, 'a header named by the upstream Connection header leaked');
    assert.equal(r.headers['proxy-authenticate'], undefined);
    assert.equal(r.headers['x-kept'], 'yes');
  });

  await t.test('trailers and HEAD pass through', async () => {
    const r = await viaProxy(proxy.port, 'orders', '/trailers');
    assert.equal(r.body, 'part1,part2');
    assert.equal(r.trailers['x-checksum'], 'abc123');
    const h = await viaProxy(proxy.port, 'orders', '/', { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body, '');
  });

  await t.test('unknown service → 503 no-such-service', async () => {
    const r = await viaProxy(proxy.port, 'payments', '/');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-mesh-error'], 'no-such-service');
    assert.equal(JSON.parse(r.body).error.code, 'MESH_ERR_NO_SUCH_SERVICE');
    const ip = await viaProxy(proxy.port, '10.1.2.3:80', '/');
    assert.equal(ip.status, 503, 'an address is never dialled, only registry names');
    assert.equal(ip.headers['x-mesh-error'], 'no-such-service');
  });

  await t.test('malformed requests → 400', async () => {
    const twoHosts = await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: orders\r\nHost: evil\r\n\r\n');
    assert.match(twoHosts, /^HTTP\/1\.1 400/);
    assert.match(twoHosts, /x-mesh-error: bad-request/i);
    const clte = await raw(proxy.port, 'POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(clte, /^HTTP\/1\.1 400/);
    const badName = await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: orders\r\nBad Header: 1\r\n\r\n');
    assert.match(badName, /^HTTP\/1\.1 400/);
    const huge = await raw(proxy.port, `GET / HTTP/1.1\r\nHost: orders\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431/);
  });

  await t.test('GET /routes shows the table', async () => {
    const snap = await getJson<RoutesSnapshot>(`${proxy.admin}/routes`);
    assert.equal(snap.registry.connected, true);
    const orders = snap.services.find((s) => s.service === 'orders');
    assert.ok(orders);
    assert.equal(orders.policy, 'round-robin');
    assert.deepEqual(orders.endpoints.map((e) => e.id).sort(), ['orders-a', 'orders-b']);
  });
});
