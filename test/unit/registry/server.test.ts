import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { connect } from 'node:net';
import type { WatchEvent } from '../../../src/core/types.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { RegistryServer } from '../../../src/registry/api/server.js';
import { WatchHub } from '../../../src/registry/catalogue/watch-hub.js';
import { MemoryStore } from './memory-store.js';

async function setup(t: { after(fn: () => Promise<void> | void): void }, opts: { keepaliveMs?: number; ring?: number } = {}) {
  const store = new MemoryStore();
  const hub = new WatchHub(store, opts.ring ?? 100);
  const server = new RegistryServer({ store, hub, version: '0.0.0-test', keepaliveMs: opts.keepaliveMs ?? 15_000 });
  const addr = await server.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${addr.port}`;
  const client = new RegistryClient({ url });
  t.after(async () => { hub.close(); await client.close(); await server.close(500); });
  return { store, hub, server, url, client };
}

async function call(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(url + path, { method: method as 'GET', body, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

test('register, list, get, heartbeat and deregister through the API', { timeout: 10_000 }, async (t) => {
  const { url, store } = await setup(t);
  const put = await call(url, 'PUT', '/v1/services/orders/instances/o1', JSON.stringify({ address: '127.0.0.1:8080', tags: { version: 'v2' } }));
  assert.equal(put.status, 200);
  assert.equal(put.json.index, 1);
  assert.equal(put.json.instance.id, 'o1');
  assert.equal(put.json.instance.weight, 100);
  assert.equal(put.headers['x-mesh-index'], '1');
  const again = await call(url, 'PUT', '/v1/services/orders/instances/o1', JSON.stringify({ address: '127.0.0.1:8080', tags: { version: 'v2' } }));
  assert.equal(again.status, 200);
  assert.equal(store.index, 1, 'an unchanged re-registration is idempotent');

  const list = await call(url, 'GET', '/v1/services');
  assert.deepEqual(list.json.services, [{ service: 'orders', instances: 1, passing: 1, warning: 0, critical: 0, tags: ['version=v2'] }]);
  const one = await call(url, 'GET', '/v1/services/orders');
  assert.equal(one.json.service, 'orders');
  assert.equal(one.json.instances.length, 1);
  assert.equal((await call(url, 'GET', '/v1/services/nope')).status, 404);
  assert.equal((await call(url, 'GET', '/v1/services/Not_A_Label')).status, 400, 'an invalid name is a 400, not a 404');

  const hb = await call(url, 'PUT', '/v1/services/orders/instances/o1/heartbeat', JSON.stringify({ status: 'warning', output: 'slow' }));
  assert.equal(hb.status, 200);
  assert.equal(hb.json.instance.health, 'warning');
  const hbEmpty = await call(url, 'PUT', '/v1/services/orders/instances/o1/heartbeat');
  assert.equal(hbEmpty.json.instance.health, 'passing');
  assert.equal((await call(url, 'PUT', '/v1/services/orders/instances/ghost/heartbeat')).json.error.code, 'MESH_ERR_NOT_FOUND');

  const status = await call(url, 'GET', '/v1/status');
  assert.equal(status.json.version, '0.0.0-test');
  assert.equal(status.json.instances, 1);
  assert.equal(status.json.kind, 'embedded');
  assert.match(status.json.listen, /^127\.0\.0\.1:\d+$/);

  const del = await call(url, 'DELETE', '/v1/services/orders/instances/o1');
  assert.deepEqual(del.json, { index: store.index, removed: true });
  const del2 = await call(url, 'DELETE', '/v1/services/orders/instances/o1');
  assert.equal(del2.status, 404);
  assert.equal(del2.json.error.code, 'MESH_ERR_NOT_FOUND');
});

test('bad requests get a 4xx JSON error and leave the store unchanged', { timeout: 10_000 }, async (t) => {
  const { url, store } = await setup(t);
  await call(url, 'PUT', '/v1/services/orders/instances/o1', JSON.stringify({ address: '127.0.0.1:8080' }));
  const before = store.index;
  const cases: [string, string, string, string | Buffer | undefined, number, string][] = [
    ['malformed JSON', 'PUT', '/v1/services/orders/instances/o2', '{"address": ', 400, 'MESH_ERR_INVALID_JSON'],
    ['empty body', 'PUT', '/v1/services/orders/instances/o2', undefined, 400, 'MESH_ERR_INVALID_JSON'],
    ['wrong type', 'PUT', '/v1/services/orders/instances/o2', '{"address":"127.0.0.1:1","weight":"9"}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['unknown field', 'PUT', '/v1/services/orders/instances/o2', '{"address":"127.0.0.1:1","wieght":9}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['array body', 'PUT', '/v1/services/orders/instances/o2', '[]', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['bad service name', 'PUT', '/v1/services/Orders!/instances/o2', '{"address":"127.0.0.1:1"}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['bad address', 'PUT', '/v1/services/orders/instances/o2', '{"address":"nope"}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['too large', 'PUT', '/v1/services/orders/instances/o2', Buffer.alloc(1024 * 1024 + 10, 0x20), 413, 'MESH_ERR_BODY_TOO_LARGE'],
    ['unknown route', 'GET', '/v2/services', undefined, 404, 'MESH_ERR_NOT_FOUND'],
    ['wrong method', 'POST', '/v1/services', '{}', 405, 'MESH_ERR_METHOD_NOT_ALLOWED'],
    ['bad heartbeat status', 'PUT', '/v1/services/orders/instances/o1/heartbeat', '{"status":"fine"}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
    ['bad watch index', 'GET', '/v1/watch?index=abc', undefined, 400, 'MESH_ERR_INVALID_ARGUMENT'],
  ];
  for (const [name, method, path, body, status, code] of cases) {
    const res = await call(url, method, path, body);
    assert.equal(res.status, status, name);
    assert.equal(res.json.error.code, code, name);
    assert.equal(typeof res.json.error.message, 'string', name);
    assert.ok(res.headers['x-mesh-index'] !== undefined, `${name}: X-Mesh-Index`);
    if (status === 405) assert.equal(res.headers.allow, 'GET', name);
  }
  assert.equal(store.index, before);
  assert.equal(store.list().length, 1);
});

test('an oversized body is refused without reading it all', { timeout: 10_000 }, async (t) => {
  const { url } = await setup(t);
  const port = Number(new URL(url).port);
  // Declares 64 MiB but sends only the headers: the answer must come anyway.
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write('PUT /v1/services/a/instances/b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{');
    });
    let buf = '';
    s.setEncoding('utf8').on('data', (d: string) => { buf += d; }).on('end', () => resolve(buf)).on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 413/);
  assert.match(reply, /MESH_ERR_BODY_TOO_LARGE/);
});

function collect(watcher: ReturnType<RegistryClient['watch']>): { events: WatchEvent[]; next(pred: (e: WatchEvent) => boolean): Promise<WatchEvent> } {
  const events: WatchEvent[] = [];
  const waiters: { pred: (e: WatchEvent) => boolean; resolve: (e: WatchEvent) => void }[] = [];
  watcher.on('event', (e) => {
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
  });
  return {
    events,
    next: (pred) => new Promise((resolve) => {
      const hit = events.find(pred);
      if (hit) resolve(hit); else waiters.push({ pred, resolve });
    }),
  };
}

test('watch: reset first, then upserts and removes, filtered by service', { timeout: 10_000 }, async (t) => {
  const { client, store } = await setup(t);
  await store.upsert({ service: 'a', id: 'a1', address: '127.0.0.1:1', weight: 100, priority: 0, tags: {} });
  await store.upsert({ service: 'b', id: 'b1', address: '127.0.0.1:2', weight: 100, priority: 0, tags: {} });
  const w = client.watch({ services: ['a'] });
  t.after(() => w.close());
  const got = collect(w);
  const reset = await got.next((e) => e.type === 'reset');
  assert.deepEqual(reset.type === 'reset' && reset.instances.map((i) => i.id), ['a1']);
  assert.equal(reset.index, 2);
  await store.upsert({ service: 'b', id: 'b2', address: '127.0.0.1:3', weight: 100, priority: 0, tags: {} });
  await store.upsert({ service: 'a', id: 'a2', address: '127.0.0.1:4', weight: 100, priority: 0, tags: {} });
  await store.remove('a', 'a1', 'deregistered');
  await got.next((e) => e.type === 'remove');
  assert.deepEqual(got.events.map((e) => [e.type, e.index]), [['reset', 2], ['upsert', 4], ['remove', 5]]);
  assert.equal(w.lastIndex, 5);
});

test('watch: resume replays missed events when the ring holds them, else resets', { timeout: 10_000 }, async (t) => {
  const { client, store, url } = await setup(t, { ring: 3 });
  for (let i = 1; i <= 4; i++) await store.upsert({ service: 'a', id: `a${i}`, address: `127.0.0.1:${i}`, weight: 100, priority: 0, tags: {} });
  // The ring (3) holds indexes 2..4: a resume from 1 replays 2, 3, 4.
  const w1 = client.watch({ index: 1 });
  const g1 = collect(w1);
  await g1.next((e) => e.index === 4);
  w1.close();
  assert.deepEqual(g1.events.map((e) => [e.type, e.index]), [['upsert', 2], ['upsert', 3], ['upsert', 4]]);
  // From 0, event 1 was evicted: reset.
  const w2 = client.watch({ index: 0 });
  const g2 = collect(w2);
  const r = await g2.next(() => true);
  w2.close();
  assert.equal(r.type, 'reset');
  assert.equal(r.type === 'reset' && r.instances.length, 4);
  // An index from the future (another store) also resets.
  const w3 = client.watch({ index: 99 });
  const r3 = await collect(w3).next(() => true);
  w3.close();
  assert.equal(r3.type, 'reset');
  // Last-Event-ID works like ?index=, and the wire format is id/event/data.
  const ac = new AbortController();
  const res = await request(`${url}/v1/watch`, { headers: { 'last-event-id': '3' }, signal: ac.signal });
  assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  let text = '';
  for await (const chunk of res.body) { text += chunk.toString(); if (text.endsWith('\n\n')) break; }
  ac.abort();
  assert.match(text, /^id: 4\nevent: upsert\ndata: \{"type":"upsert","index":4,/);
});

test('watch: keepalive comments, and close ends the streams', { timeout: 10_000 }, async (t) => {
  const { url, hub, server } = await setup(t, { keepaliveMs: 50 });
  const res = await request(`${url}/v1/watch`);
  let text = '';
  const done = (async () => { for await (const chunk of res.body) text += chunk.toString(); })();
  while (!text.includes(': keepalive')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(hub.watchers, 1);
  hub.close();
  await server.close(1_000);
  await done;
  assert.match(text, /^id: 0\nevent: reset\n/);
});

test('watch: a reset larger than the unsent-bytes limit reaches a reading client instead of dropping it', { timeout: 20_000 }, async (t) => {
  const store = new MemoryStore();
  const hub = new WatchHub(store, 100);
  const dropped: string[] = [];
  // The limit is for a client that stopped reading; one big event to a client that reads is not that.
  const server = new RegistryServer({ store, hub, version: '0.0.0-test', watchMaxQueuedBytes: 16 * 1024, log: (l) => dropped.push(l) });
  const addr = await server.listen('127.0.0.1', 0);
  const client = new RegistryClient({ url: `http://127.0.0.1:${addr.port}` });
  t.after(async () => { hub.close(); await client.close(); await server.close(500); });
  const big = 'x'.repeat(2_000);
  for (let i = 0; i < 4_000; i++) await store.upsert({ service: 'a', id: `a${i}`, address: '127.0.0.1:1', weight: 100, priority: 0, tags: { pad: big } });
  const w = client.watch();
  t.after(() => w.close());
  let disconnects = 0;
  w.on('disconnected', () => { disconnects++; });
  const got = collect(w);
  const reset = await got.next((e) => e.type === 'reset');
  assert.equal(reset.type === 'reset' && reset.instances.length, 4_000);
  await store.upsert({ service: 'a', id: 'after', address: '127.0.0.1:2', weight: 100, priority: 0, tags: {} });
  await got.next((e) => e.type === 'upsert');
  assert.equal(disconnects, 0);
  assert.deepEqual(dropped, []);
});
