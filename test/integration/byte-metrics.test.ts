// Body bytes through a real proxy: known-size bodies over HTTP/1.1, h2 and a WebSocket tunnel, then
// mesh_request_bytes_total / mesh_response_bytes_total (promtool-clean) and the access log's bytes_in /
// bytes_out must both show exactly those bytes, per endpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, tempDir } from '../helpers/mesh.js';
import { h2Request, h2Session, startH2Backend } from '../helpers/h2-backend.js';
import { get, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { echoOnce, wsViaProxy } from '../helpers/websocket.js';

interface Line { path: string; status: number; upstream: string | null; bytes_in: number; bytes_out: number; error: string | null }

/** Client-to-server WebSocket frames are masked: 2 header bytes + 4 mask bytes + payload (< 126 bytes). */
const maskedFrame = (payload: number) => 2 + 4 + payload;
/** Server-to-client frames are not: 2 header bytes + payload. */
const plainFrame = (payload: number) => 2 + payload;

test('request and response body bytes are counted per endpoint over HTTP/1.1, h2 and WebSocket', { timeout: 45_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const log = join(dir.path, 'access.log');
  const reg = await startRegistry(t);
  const web = await startBackend(t, 'web-1');
  const h2 = await startH2Backend(t, 'h2-1');
  await register(reg.url, 'web', web);
  await register(reg.url, 'streams', { name: 'h2-1', address: h2.h2 });
  const proxy = await startProxy(t, reg.url, ['--access-log', log]);
  await eventually(async () => (await viaProxy(proxy.port, 'web', '/sink', { method: 'POST', body: 'w' })).status === 200, 10_000);

  // HTTP/1.1: 3000 bytes up and echoed back, 5000 bytes down.
  const echo = await viaProxy(proxy.port, 'web', '/echo', { method: 'PUT', body: Buffer.alloc(3000, 97) });
  assert.equal(echo.body.length, 3000);
  const down = await viaProxy(proxy.port, 'web', '/bytes?n=5000');
  assert.equal(down.body.length, 5000);
  // h2: 7000 bytes up, echoed back.
  const session = h2Session(t, proxy.port);
  const h2echo = await h2Request(session, 'streams', '/echo', { method: 'POST', body: Buffer.alloc(7000, 98) });
  assert.equal(h2echo.status, 200);
  assert.equal(h2echo.body.length, 7000);
  session.close();
  // WebSocket: one text message each way, then a close handshake started by the client.
  assert.equal(await echoOnce(wsViaProxy(t, proxy.port, 'web', '/chat'), 'hello'), 'web-1:hello');

  // The warm-up POST sent 1 byte and got the sink's JSON back; its size comes from the access log.
  const lines = await eventually(() => {
    const parsed = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    return parsed.some((l) => l.path === '/chat') && parsed.some((l) => l.path === '/echo' && l.upstream === h2.h2) ? parsed : undefined;
  }, 5_000) as Line[];
  const sink = lines.find((l) => l.path === '/sink')!;
  const chat = lines.find((l) => l.path === '/chat')!;
  assert.equal(chat.status, 101);
  // The client's close frame carries no payload; the backend answers with an empty close frame and hangs up.
  assert.equal(chat.bytes_in, maskedFrame(5) + maskedFrame(0), 'WebSocket bytes tunnelled to the upstream');
  assert.equal(chat.bytes_out, plainFrame('web-1:hello'.length) + plainFrame(0), 'WebSocket bytes tunnelled to the client');

  const metrics = await get(`${proxy.admin}/metrics`);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool check metrics failed:\n${lint.stdout}${lint.stderr}`);
  const value = (name: string, endpoint: string) => {
    const m = new RegExp(`^${name}\\{service="[a-z]+",endpoint="${endpoint}"\\} (\\d+)$`, 'm').exec(metrics.body);
    return m === null ? undefined : Number(m[1]);
  };
  assert.equal(value('mesh_request_bytes_total', 'web-1'), sink.bytes_in + 3000 + 0 + chat.bytes_in);
  assert.equal(value('mesh_response_bytes_total', 'web-1'), sink.bytes_out + 3000 + 5000 + chat.bytes_out);
  assert.equal(value('mesh_request_bytes_total', 'h2-1'), 7000);
  assert.equal(value('mesh_response_bytes_total', 'h2-1'), 7000);
  assert.equal(sink.bytes_in, 1);

  // The access log agrees with the counters line by line (no line carries a proxy-made error body here).
  const sum = (upstream: string, field: 'bytes_in' | 'bytes_out') => lines.filter((l) => l.upstream === upstream).reduce((a, l) => a + l[field], 0);
  assert.equal(sum(web.address, 'bytes_in'), value('mesh_request_bytes_total', 'web-1'));
  assert.equal(sum(web.address, 'bytes_out'), value('mesh_response_bytes_total', 'web-1'));
  assert.equal(sum(h2.h2, 'bytes_in'), 7000);
  assert.equal(sum(h2.h2, 'bytes_out'), 7000);
});
