import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTraceContext, continueTrace, ensureRequestId, newRequestId, parseTraceparent } from '../../../src/metrics/trace.js';

const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('a valid traceparent keeps its trace id and gets a new span whose parent is the incoming span', () => {
  const t = continueTrace(INCOMING);
  assert.equal(t.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(t.parentSpanId, '00f067aa0ba902b7');
  assert.match(t.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(t.spanId, '00f067aa0ba902b7');
  assert.equal(t.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${t.spanId}-01`);
  assert.equal(t.continued, true);
});

test('absent or invalid traceparents start a new sampled trace', () => {
  for (const bad of [undefined, '', 'garbage', INCOMING.toUpperCase(), '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', `ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`,
    `${INCOMING}-extra`, [INCOMING, INCOMING]]) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
    const t = continueTrace(bad);
    assert.equal(t.continued, false);
    assert.match(t.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(t.traceId, '00000000000000000000000000000000');
  }
});

test('a future version with extra fields is accepted and re-emitted as version 00', () => {
  const t = continueTrace('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-ever');
  assert.equal(t.continued, true);
  assert.match(t.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
});

test('request ids: kept when sane, else a fresh UUID v4; ids do not repeat', () => {
  assert.equal(ensureRequestId('abc-123'), 'abc-123');
  assert.match(ensureRequestId(undefined), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(ensureRequestId('has space'), 'has space');
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) seen.add(newRequestId()); // crosses several pool refills
  assert.equal(seen.size, 2000);
});

test('applyTraceContext rewrites an upstream header array in place', () => {
  const h = ['Host', 'orders', 'TraceParent', INCOMING, 'tracestate', 'k=v', 'X-Request-Id', 'abc'];
  const ids = applyTraceContext(h);
  assert.equal(ids.requestId, 'abc');
  assert.equal(ids.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.match(h[3]!, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.deepEqual(h.filter((_, i) => i % 2 === 0), ['Host', 'TraceParent', 'tracestate', 'X-Request-Id']);

  const bare = ['host', 'orders', 'tracestate', 'k=v', 'traceparent', 'nonsense'];
  const fresh = applyTraceContext(bare);
  assert.deepEqual(bare.filter((_, i) => i % 2 === 0), ['host', 'traceparent', 'x-request-id']);
  assert.equal(bare[3], `00-${fresh.traceId}-${bare[3]!.slice(36, 52)}-01`);
  assert.equal(bare[5], fresh.requestId);
});
