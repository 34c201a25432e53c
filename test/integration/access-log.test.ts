// Access log and trace context through a real proxy: one JSON line per request with the documented fields,
// the W3C traceparent kept (same trace, new span whose parent is the caller's), x-request-id set when absent
// and kept when present, and the ids in the log match what the upstream saw.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { curl } from '../helpers/curl.js';
import { eventually, freePort, tempDir } from '../helpers/mesh.js';
import { register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { startH2Backend } from '../helpers/h2-backend.js';
import { closed, echoOnce, opened, wsViaProxy } from '../helpers/websocket.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

type After = { after(fn: () => Promise<void> | void): void };

/** A temp dir with the access log's path, a registry, and backend orders-a registered as orders. */
async function setup(t: After) {
  const dir = tempDir();
  t.after(dir.cleanup);
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'orders-a');
  await register(reg.url, 'orders', b);
  return { dir, log: join(dir.path, 'access.log'), reg, b };
}

/** Sends one raw request on its own connection; resolves with everything the proxy sent back. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(request));
    let out = '';
    s.setEncoding('latin1').on('data', (d: string) => { out += d; }).on('end', () => resolve(out)).on('error', reject);
  });
}

test('access log lines and trace context from a real proxy', { timeout: 45_000 }, async (t) => {
  const { dir, log, reg, b } = await setup(t);
  const config = join(dir.path, 'mesh.json');
  writeFileSync(config, JSON.stringify({ services: { orders: { maxConcurrent: 1 } } }));
  const proxy = await startProxy(t, reg.url, ['--access-log', log, '--config', config]);
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/warm')).status === 200, 10_000);

  const traced = await viaProxy(proxy.port, 'orders', '/a?x=1', { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=1', 'x-request-id': 'req-123' } });
  const seen = JSON.parse(traced.body).headers as Record<string, string>;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent ?? '');
  assert.ok(m, `upstream traceparent: ${seen.traceparent}`);
  assert.equal(m[1], TRACE);
  assert.notEqual(m[2], PARENT);
  assert.equal(seen.tracestate, 'vendor=1');
  assert.equal(seen['x-request-id'], 'req-123');

  const fresh = await viaProxy(proxy.port, 'orders', '/b', { method: 'POST', body: 'hello' });
  const seen2 = JSON.parse(fresh.body).headers as Record<string, string>;
  assert.match(seen2.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.match(seen2['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);

  const lines = await eventually(() => {
    const text = (() => { try { return readFileSync(log, 'utf8'); } catch { return ''; } })();
    const parsed = text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return parsed.some((l) => l.path === '/b') ? parsed : undefined;
  }, 5_000) as Record<string, unknown>[];
  const a = lines.find((l) => l.path === '/a?x=1')!;
  assert.deepEqual(Object.keys(a).sort(), ['authority', 'bytes_in', 'bytes_out', 'duration_ms', 'error', 'method', 'path', 'request_id', 'status', 'time', 'trace_id', 'upstream'].sort());
  assert.equal(a.error, null);
  assert.equal(a.method, 'GET');
  assert.equal(a.authority, 'orders');
  assert.equal(a.status, 200);
  assert.equal(a.upstream, b.address);
  assert.equal(a.request_id, 'req-123');
  assert.equal(a.trace_id, TRACE);
  assert.ok((a.bytes_out as number) > 0);
  assert.ok(typeof a.duration_ms === 'number' && a.duration_ms >= 0);
  assert.ok(!Number.isNaN(Date.parse(a.time as string)));
  const post = lines.find((l) => l.path === '/b')!;
  assert.equal(post.method, 'POST');
  assert.equal(post.bytes_in, 5);
  assert.equal(post.request_id, seen2['x-request-id']);
  assert.equal(post.trace_id, /^00-([0-9a-f]{32})/.exec(seen2.traceparent!)![1]);

  // Requests the proxy refuses before forwarding get their line too, with the cause and the ids.
  const unknown = await viaProxy(proxy.port, 'nosuch', '/x', { headers: { 'x-request-id': 'req-nosuch', traceparent: `00-${TRACE}-${PARENT}-01` } });
  assert.equal(unknown.status, 503);
  const slow = viaProxy(proxy.port, 'orders', '/slow?ms=1500');
  const busy = await eventually(async () => { const r = await viaProxy(proxy.port, 'orders', '/busy'); return r.status === 503 ? r : undefined; }, 5_000, 20);
  assert.equal(busy!.headers['x-mesh-error'], 'circuit-open');
  assert.equal((await slow).status, 200);
  const raw = (request: string) => rawRequest(proxy.port, request);
  assert.match(await raw('GET /twohosts HTTP/1.1\r\nHost: orders\r\nHost: users\r\nx-request-id: req-twohosts\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400/);
  assert.match(await raw('POST /framing HTTP/1.1\r\nHost: orders\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'), /^HTTP\/1\.1 400/);
  const refused = await eventually(() => {
    const parsed = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const byPath = (p: string) => parsed.find((l) => l.path === p);
    const parser = parsed.find((l) => l.path === '' && l.status === 400);
    return byPath('/x') && byPath('/busy') && byPath('/twohosts') && parser ? { x: byPath('/x')!, busy: byPath('/busy')!, two: byPath('/twohosts')!, parser } : undefined;
  }, 5_000) as Record<string, Record<string, unknown>>;
  assert.deepEqual([refused.x!.authority, refused.x!.status, refused.x!.error, refused.x!.request_id, refused.x!.trace_id, refused.x!.upstream], ['nosuch', 503, 'no-such-service', 'req-nosuch', TRACE, null]);
  assert.deepEqual([refused.busy!.status, refused.busy!.error], [503, 'circuit-open']);
  assert.match(refused.busy!.request_id as string, /^[0-9a-f-]{36}$/);
  assert.deepEqual([refused.two!.status, refused.two!.error, refused.two!.request_id], [400, 'bad-request', 'req-twohosts']);
  assert.equal(refused.parser!.error, 'bad-request');

  // --access-log - writes the same lines to the proxy's standard output.
  const toStdout = await startProxy(t, reg.url, ['--access-log', '-']);
  await eventually(async () => (await viaProxy(toStdout.port, 'orders', '/stdout-line')).status === 200, 10_000);
  const line = await toStdout.daemon.waitFor(/^\{.*"path":"\/stdout-line".*\}$/m);
  assert.equal((JSON.parse(line[0]) as { upstream: string }).upstream, b.address);
});

test('the proxy\'s own answers log the body bytes they sent as bytes_out (HTTP/1.1 and h2)', { timeout: 45_000 }, async (t) => {
  const { log, reg } = await setup(t);
  await register(reg.url, 'gone', { address: `127.0.0.1:${await freePort()}`, name: 'gone-1' });
  const proxy = await startProxy(t, reg.url, ['--access-log', log]);
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/warm')).status === 200, 10_000);
  const raw = (request: string) => rawRequest(proxy.port, request);
  const bodyOf = (reply: string) => Buffer.byteLength(reply.slice(reply.indexOf('\r\n\r\n') + 4), 'latin1');

  const noSuch = await viaProxy(proxy.port, 'nosuch', '/nosuch-get');
  assert.equal(noSuch.status, 503);
  assert.equal((await viaProxy(proxy.port, 'nosuch', '/nosuch-head', { method: 'HEAD' })).status, 503);
  const gone = await viaProxy(proxy.port, 'gone', '/gone');
  assert.equal(gone.status, 502);
  const twoHosts = await raw('GET /twohosts HTTP/1.1\r\nHost: orders\r\nHost: users\r\nConnection: close\r\n\r\n');
  const tooLarge = await raw(`GET /big HTTP/1.1\r\nHost: orders\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(tooLarge, /^HTTP\/1\.1 431/);
  const connectReply = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(connectReply, /^HTTP\/1\.1 405/);
  const h2 = await curl(['--http2-prior-knowledge', '-H', 'Host: nosuch', `http://127.0.0.1:${proxy.port}/h2-nosuch`]);
  assert.equal(h2.code, 0, h2.stderr);

  const lines = (await eventually(() => {
    const parsed = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; path: string; status: number; bytes_out: number });
    return parsed.some((l) => l.path === '/h2-nosuch') && parsed.some((l) => l.method === 'CONNECT') ? parsed : undefined;
  }, 5_000))!;
  const bytesOut = (pick: (l: { method: string; path: string; status: number }) => boolean) => lines.find(pick)?.bytes_out;
  assert.ok(Buffer.byteLength(noSuch.body) > 0);
  assert.equal(bytesOut((l) => l.path === '/nosuch-get'), Buffer.byteLength(noSuch.body));
  assert.equal(bytesOut((l) => l.path === '/nosuch-head'), 0, 'a HEAD answer has no body');
  assert.equal(bytesOut((l) => l.path === '/gone'), Buffer.byteLength(gone.body));
  assert.equal(bytesOut((l) => l.path === '/twohosts'), bodyOf(twoHosts));
  assert.equal(bytesOut((l) => l.path === '' && l.status === 431), bodyOf(tooLarge));
  assert.equal(bytesOut((l) => l.method === 'CONNECT'), bodyOf(connectReply));
  assert.equal(bytesOut((l) => l.path === '/h2-nosuch'), Buffer.byteLength(h2.stdout));
});

test('a WebSocket request gets one line: when its tunnel ends (101, bytes each way) and when it is refused', { timeout: 45_000 }, async (t) => {
  const { log, reg, b } = await setup(t);
  const proxy = await startProxy(t, reg.url, ['--access-log', log]);
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/warm')).status === 200, 10_000);

  assert.equal(await echoOnce(wsViaProxy(t, proxy.port, 'orders', '/chat?room=1'), 'hi'), 'orders-a:hi');
  const refusedWs = wsViaProxy(t, proxy.port, 'nosuch', '/chat');
  await assert.rejects(opened(refusedWs));
  await closed(refusedWs);

  const lines = await eventually(() => {
    const parsed = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const chat = parsed.filter((l) => l.path === '/chat?room=1');
    const refused = parsed.filter((l) => l.authority === 'nosuch.mesh');
    return chat.length > 0 && refused.length > 0 ? { chat, refused } : undefined;
  }, 5_000) as { chat: Record<string, unknown>[]; refused: Record<string, unknown>[] };
  assert.equal(lines.chat.length, 1, 'one line per WebSocket request');
  const chat = lines.chat[0]!;
  assert.deepEqual([chat.method, chat.authority, chat.status, chat.error, chat.upstream], ['GET', 'orders.mesh', 101, null, b.address]);
  // Masked frames from the client (2 + 4 + payload): "hi" and an empty close; plain ones back: the echo and a close.
  assert.equal(chat.bytes_in, (2 + 4 + 2) + (2 + 4));
  assert.equal(chat.bytes_out, (2 + 'orders-a:hi'.length) + 2);
  assert.ok(typeof chat.duration_ms === 'number' && chat.duration_ms > 0);
  assert.match(chat.request_id as string, /^[0-9a-f-]{36}$/);
  assert.equal(lines.refused.length, 1);
  const refused = lines.refused[0]!;
  assert.deepEqual([refused.status, refused.error, refused.upstream, refused.bytes_in], [503, 'no-such-service', null, 0]);
  assert.ok((refused.bytes_out as number) > 0, 'the refusal body is logged as bytes_out');
});

test('a client that leaves before the answer is logged as 499 on HTTP/1.1 and on h2, as the metrics count it', { timeout: 45_000 }, async (t) => {
  const { log, reg } = await setup(t);
  const proxy = await startProxy(t, reg.url, ['--access-log', log]);
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/warm')).status === 200, 10_000);
  // curl gives up after 1 s while the backend still holds the answer (3 s): the proxy sees its client leave.
  const h1 = await curl(['-H', 'Host: orders', `http://127.0.0.1:${proxy.port}/slow?ms=3000&left=h1`], 1_000);
  // h2 to an h2c backend (its /slow answers after 600 ms; curl leaves after 0.3 s: the last --max-time counts).
  const h2b = await startH2Backend(t, 'orders-h2');
  await register(reg.url, 'orders-h2', { address: h2b.h2, name: 'orders-h2-1' });
  await eventually(async () => (await curl(['--http2-prior-knowledge', '-H', 'Host: orders-h2', `http://127.0.0.1:${proxy.port}/warm`])).stdout.length > 0, 10_000);
  const h2 = await curl(['--max-time', '0.3', '--http2-prior-knowledge', '-H', 'Host: orders-h2', `http://127.0.0.1:${proxy.port}/slow`]);
  assert.equal(h1.code, 28, `curl timed out (h1): ${JSON.stringify(h1)}`);
  assert.equal(h2.code, 28, `curl timed out (h2): ${JSON.stringify(h2)}`);
  const lines = (await eventually(() => {
    const parsed = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { path: string; status: number });
    return parsed.some((l) => l.path.endsWith('left=h1')) && parsed.some((l) => l.path === '/slow') ? parsed : undefined;
  }, 5_000))!;
  assert.equal(lines.find((l) => l.path.endsWith('left=h1'))?.status, 499);
  assert.equal(lines.find((l) => l.path === '/slow')?.status, 499);
});
