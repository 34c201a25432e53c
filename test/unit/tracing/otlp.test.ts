import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeExportRequest, encodeSpan, wrapEncodedSpans } from '../../../src/tracing/otlp.js';
import { ProtoWriter } from '../../../src/tracing/proto-writer.js';
import { Span, SpanKind } from '../../../src/tracing/span.js';
import { decodeExport } from '../../helpers/otlp-receiver.js';

const sink = { ended: [] as Span[], spanEnded(s: Span) { this.ended.push(s); } };
const RESOURCE = { attributes: [['service.name', 'mesh-proxy']] as Array<[string, string]>, scopeName: 'mesh', scopeVersion: '0.1.0' };

function span(i: number, path = '/orders/1'): Span {
  const s = new Span(sink, { traceId: `${String(i).padStart(2, '0')}f92f3577b34da6a3ce929d0e0e4736`, spanId: `00f067aa0ba902${String(i).padStart(2, '0')}`, parentSpanId: i % 2 ? 'aaaaaaaaaaaaaaaa' : undefined },
    SpanKind.client, 'orders', 'GET', path, '1.1', false, `req-${i}`);
  s.tryStart('127.0.0.1:9001');
  s.tryConnected();
  s.tryHeaders(503);
  s.retry('status-503');
  s.tryStart('127.0.0.1:9002');
  s.tryHeaders(200);
  s.end(200, undefined);
  return s;
}

test('the hand-written encoding decodes with the official opentelemetry-proto definitions, field for field', () => {
  const spans = [span(1), span(2, `/ünïcødé/${'x'.repeat(300)}`)];
  const decoded = decodeExport(encodeExportRequest(spans, RESOURCE));
  assert.equal(decoded.length, 2);
  const [a, b] = decoded as [typeof decoded[0], typeof decoded[0]];
  assert.equal(a.traceId, spans[0]!.traceId);
  assert.equal(a.spanId, spans[0]!.spanId);
  assert.equal(a.parentSpanId, 'aaaaaaaaaaaaaaaa');
  assert.equal(b.parentSpanId, '', 'a root span has no parent');
  assert.equal(a.kind, 3);
  assert.equal(a.name, 'GET');
  assert.equal(a.serviceName, 'mesh-proxy');
  assert.equal(b.attributes['url.path'], `/ünïcødé/${'x'.repeat(300)}`, 'long and multi-byte strings survive (length varints over 127)');
  assert.equal(a.attributes['mesh.retries'], 1);
  assert.equal(a.attributes['http.response.status_code'], 200);
  assert.equal(a.attributes['server.port'], 9002);
  assert.deepEqual(a.events, [{ name: 'mesh.retry', attributes: { 'mesh.retry.reason': 'status-503', 'mesh.endpoint': '127.0.0.1:9001' } }]);
  assert.equal(a.flags, 0x301);
  assert.equal(b.flags, 0x101);
  const startNs = BigInt(Math.floor(spans[0]!.startEpochMs)) * 1_000_000n + BigInt(Math.round((spans[0]!.startEpochMs % 1) * 1e6));
  assert.equal(a.startTimeUnixNano, startNs);
  assert.ok(a.endTimeUnixNano >= a.startTimeUnixNano);
});

test('epoch nanoseconds are exact past 2^53 (built from 32-bit halves)', () => {
  for (const ms of [0, 1, 1.5, 1_700_000_000_000.123456, 1_799_999_999_999.999, 4_294_967_296_000.25]) {
    const w = new ProtoWriter(16);
    w.epochNanos(1, ms);
    const buf = w.finish();
    const whole = Math.floor(ms);
    const expected = BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
    assert.equal(buf.readBigUInt64LE(1), expected, String(ms));
  }
});

test('a writer that outgrows its buffer keeps what it wrote', () => {
  const w = new ProtoWriter(8);
  const long = 'y'.repeat(70_000);
  w.string(1, long);
  const buf = w.finish();
  assert.equal(buf[0], 0x0a);
  assert.equal(buf.subarray(buf.length - 70_000).toString(), long);
});

test('spans encoded one by one when queued, then wrapped into a request, give the same bytes as encoding the batch', () => {
  const spans = [span(3), span(4, `/ünïcødé/${'y'.repeat(200)}`), span(5, '/ü?q=1')];
  const queued = new ProtoWriter(16);
  for (const s of spans) encodeSpan(queued, s);
  const wrapped = wrapEncodedSpans(queued.finish(), RESOURCE);
  assert.deepEqual(wrapped, encodeExportRequest(spans, RESOURCE));
  const decoded = decodeExport(wrapped);
  assert.deepEqual(decoded.map((d) => d.spanId), spans.map((s) => s.spanId));
  assert.deepEqual(decoded.map((d) => d.attributes['url.path']), ['/orders/1', `/ünïcødé/${'y'.repeat(200)}`, '/ü'], 'a short non-ASCII value takes the general path');
  assert.deepEqual(decoded.map((d) => d.attributes['mesh.tries']), [2, 2, 2]);
});

test('a span keeps every try with its phases, one try as flat fields and earlier ones after retries', () => {
  const s = span(6);
  assert.equal(s.tryCount, 2);
  assert.equal(s.endpoint, '127.0.0.1:9002');
  const [first, second] = s.tries as [Span['tries'][0], Span['tries'][0]];
  assert.deepEqual({ endpoint: first.endpoint, status: first.status, failure: first.failure }, { endpoint: '127.0.0.1:9001', status: 503, failure: 'status-503' });
  assert.ok(first.start >= 0 && first.connected >= first.start && first.headers >= first.connected && first.end >= first.headers);
  assert.deepEqual({ endpoint: second.endpoint, status: second.status, failure: second.failure, connected: second.connected }, { endpoint: '127.0.0.1:9002', status: 200, failure: '', connected: -1 });
  assert.equal(second.end, s.durationMs, 'the last try ends with the span');
  const lost = new Span(sink, { traceId: '1'.repeat(32), spanId: '2'.repeat(16) }, SpanKind.client, 'orders', 'GET', '/', '1.1', false, undefined);
  lost.tryStart('127.0.0.1:9003');
  lost.end(502, 'upstream-reset');
  assert.deepEqual(lost.tries.map((t) => [t.status, t.failure]), [[0, 'upstream-reset']], 'a try with no answer carries the cause');
  const none = new Span(sink, { traceId: '1'.repeat(32), spanId: '3'.repeat(16) }, SpanKind.client, 'orders', 'GET', '/', '1.1', false, undefined);
  none.end(503, 'no-healthy-endpoint');
  assert.deepEqual([none.tryCount, none.tries, none.endpoint], [0, [], undefined]);
});
