import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanRing } from '../../../src/tracing/ring.js';
import { Span, SpanKind } from '../../../src/tracing/span.js';

function ended(ring: SpanRing, i: number, service: string, durationMs: number): Span {
  const s = new Span(ring as unknown as { spanEnded(s: Span): void }, { traceId: i.toString(16).padStart(32, '0'), spanId: i.toString(16).padStart(16, '0'), parentSpanId: undefined },
    SpanKind.client, service, 'GET', '/', '1.1', false, undefined);
  s.durationMs = durationMs;
  return s;
}

test('the ring keeps the last `capacity` spans, oldest first', () => {
  const ring = new SpanRing(4);
  for (let i = 1; i <= 6; i++) ring.add(ended(ring, i, 'a', i));
  assert.deepEqual(ring.recent().map((s) => parseInt(s.spanId, 16)), [3, 4, 5, 6]);
  assert.equal(ring.trace((1).toString(16).padStart(32, '0')).length, 1, 'an overwritten span is still found among the slowest');
});

test('the slowest few per service are kept even after the ring moved on', () => {
  const ring = new SpanRing(2, 3);
  const durations = [5, 50, 1, 40, 2, 30, 3];
  durations.forEach((d, i) => ring.add(ended(ring, i + 1, i % 2 ? 'b' : 'a', d)));
  assert.deepEqual(ring.slowest('a').map((s) => s.durationMs), [5, 3, 2]);
  assert.deepEqual(ring.slowest('b').map((s) => s.durationMs), [50, 40, 30]);
  assert.deepEqual(ring.slowest().map((s) => s.durationMs), [50, 40, 30, 5, 3, 2]);
});

test('the ring copies ended spans into its own slots (holding no reference to them); a span both recent and slowest is given once', () => {
  const ring = new SpanRing(4, 2);
  const added = [1, 2, 3].map((i) => { const s = ended(ring, i, 'a', i); s.tryStart(`127.0.0.1:900${i}`); ring.add(s); return s; });
  const recent = ring.recent();
  assert.deepEqual(recent.map((s) => [s.spanId, s.durationMs, s.endpoint, s.tryCount]), added.map((s) => [s.spanId, s.durationMs, s.endpoint, 1]));
  for (const s of recent) assert.ok(!added.includes(s), 'a ring slot is not the span the request made');
  assert.equal(ring.trace(added[2]!.traceId).length, 1, 'the slowest list keeps the span itself; trace() gives it once');
});
