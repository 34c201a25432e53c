// Header handling on both sides of the proxy (pure functions of raw header lists).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterResponseHeaders, upstreamHeaders } from '../../../src/proxy/headers/hop-headers.js';
import { classifyFailure, mayRetry } from '../../../src/proxy/attempt/retry.js';
import { offersWebSocket } from '../../../src/proxy/http1/upgrade.js';

test('request headers: hop-by-hop and Connection-named dropped, X-Forwarded-* set, one Host', () => {
  const out = upstreamHeaders(['Host', 'orders', 'Connection', 'keep-alive, X-Private', 'X-Private', 's', 'Keep-Alive', '5', 'TE', 'trailers',
    'Transfer-Encoding', 'chunked', 'Proxy-Authorization', 'x', 'Expect', '100-continue', 'Accept', '*/*', 'X-Forwarded-For', '1.2.3.4'], '127.0.0.1', undefined, undefined);
  assert.deepEqual(out, ['Accept', '*/*', 'host', 'orders', 'x-forwarded-for', '1.2.3.4, 127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
  assert.equal(upstreamHeaders(['Host', 'a', 'host', 'b'], '127.0.0.1', undefined, undefined), 'the request has more than one Host header');
  const abs = upstreamHeaders(['Host', 'evil', 'X-Forwarded-Proto', 'https'], '10.0.0.1', 'orders', undefined);
  assert.deepEqual(abs, ['X-Forwarded-Proto', 'https', 'host', 'orders', 'x-forwarded-for', '10.0.0.1', 'x-forwarded-host', 'orders']);
});

test('response headers: hop-by-hop and Connection-named dropped, the rest kept in order', () => {
  const raw = ['Content-Type', 'text/plain', 'Connection', 'X-Secret', 'X-Secret', '1', 'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'].map((s) => Buffer.from(s));
  assert.deepEqual(filterResponseHeaders(raw), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
});

test('retry decisions', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(classifyFailure(err('ECONNREFUSED')), 'connect');
  assert.equal(classifyFailure(err('UND_ERR_SOCKET')), 'reset');
  assert.equal(classifyFailure(err('UND_ERR_HEADERS_TIMEOUT')), 'timeout');
  assert.equal(classifyFailure(Object.assign(new Error('x'), { cause: err('ECONNRESET') })), 'reset');
  assert.equal(mayRetry('connect', false, false, false), true);
  assert.equal(mayRetry('connect', true, true, false), false);
  assert.equal(mayRetry('reset', true, false, false), true);
  assert.equal(mayRetry('reset', false, false, false), false);
  assert.equal(mayRetry('reset', false, false, true), true);
  assert.equal(mayRetry('status-503', true, true, true), false);
  assert.equal(mayRetry('timeout', true, false, true), false);
});

test('request headers: a Connection header naming X-Forwarded-* drops the client\'s copies, never the ones the proxy adds', () => {
  const out = upstreamHeaders(['Host', 'orders', 'Connection', 'X-Forwarded-For, x-forwarded-proto, X-Forwarded-Host, X-Hop', 'X-Forwarded-For', '6.6.6.6',
    'X-Forwarded-Proto', 'https', 'X-Hop', '1', 'Accept', '*/*'], '127.0.0.1', undefined, undefined);
  assert.deepEqual(out, ['Accept', '*/*', 'host', 'orders', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
});

test('request headers with an underscore: dropped and counted when a counter is given, kept without one', () => {
  let dropped = 0;
  const counter = { underscoreHeadersDropped: (n: number) => { dropped += n; } };
  const raw = ['Host', 'orders', 'x_user', 'admin', 'X-User', 'alice', 'A_Very_Long_Header_Name_Over_19', '1', 'Accept', '*/*'];
  assert.deepEqual(upstreamHeaders(raw, '127.0.0.1', undefined, counter),
    ['X-User', 'alice', 'Accept', '*/*', 'host', 'orders', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
  assert.equal(dropped, 2);
  upstreamHeaders(['Host', 'orders', 'Accept', '*/*'], '127.0.0.1', undefined, counter);
  assert.equal(dropped, 2, 'nothing counted for a request without underscores');
  const kept = upstreamHeaders(raw, '127.0.0.1', undefined, undefined) as string[];
  assert.ok(kept.includes('x_user') && kept.includes('A_Very_Long_Header_Name_Over_19'));
});

test('request headers: HTTP2-Settings (from an Upgrade: h2c) is hop-by-hop, named or not', () => {
  const out = upstreamHeaders(['Host', 'orders', 'Connection', 'Upgrade, HTTP2-Settings', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA'], '127.0.0.1', undefined, undefined);
  assert.deepEqual(out, ['host', 'orders', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
  assert.deepEqual(upstreamHeaders(['Host', 'orders', 'http2-settings', 'x'], '127.0.0.1', undefined, undefined),
    ['host', 'orders', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
});

test('only a WebSocket offer is tunnelled: the token alone or in a list, any case', () => {
  assert.equal(offersWebSocket('websocket'), true);
  assert.equal(offersWebSocket('WebSocket'), true);
  assert.equal(offersWebSocket('h2c, websocket'), true);
  assert.equal(offersWebSocket('h2c'), false);
  assert.equal(offersWebSocket('TLS/1.0'), false);
  assert.equal(offersWebSocket('websocketx'), false);
  assert.equal(offersWebSocket(undefined), false);
});
