// Access log and trace context through a real proxy: one JSON line per request with the documented fields,
// the W3C traceparent kept (same trace, new span whose parent is the caller's), x-request-id set when absent
// and kept when present, and the ids in the log match what the upstream saw.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, tempDir } from '../helpers/mesh.js';
import { register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('access log lines and trace context from a real proxy', { timeout: 45_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const log = join(dir.path, 'access.log');
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'orders-a');
  await register(reg.url, 'orders', b);
  const proxy = await startProxy(t, reg.url, ['--access-log', log]);
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
  assert.deepEqual(Object.keys(a).sort(), ['authority', 'bytes_in', 'bytes_out', 'duration_ms', 'method', 'path', 'request_id', 'status', 'time', 'trace_id', 'upstream'].sort());
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

  // --access-log - writes the same lines to the proxy's standard output.
  const toStdout = await startProxy(t, reg.url, ['--access-log', '-']);
  await eventually(async () => (await viaProxy(toStdout.port, 'orders', '/stdout-line')).status === 200, 10_000);
  const line = await toStdout.daemon.waitFor(/^\{.*"path":"\/stdout-line".*\}$/m);
  assert.equal((JSON.parse(line[0]) as { upstream: string }).upstream, b.address);
});
