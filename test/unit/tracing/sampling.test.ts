import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTraceContext, continueTrace } from '../../../src/metrics/trace.js';
import { Tracer } from '../../../src/tracing/tracer.js';
import { resolveTracing } from '../../../src/tracing/settings.js';

const tracer = (ratio: number) => new Tracer(resolveTracing({ traceSample: ratio }, {}, 'svc')!, () => undefined);

test('ratio sampling decides new traces by their id, the same way on every proxy', () => {
  const t = tracer(0.25);
  let yes = 0;
  for (let i = 0; i < 4000; i++) {
    const c = continueTrace(undefined, t);
    assert.equal(c.sampled, t.sampleNew(c.traceId), 'deterministic in the trace id');
    assert.equal(c.traceparent.endsWith(c.sampled ? '-01' : '-00'), true);
    if (c.sampled) yes++;
  }
  assert.ok(yes > 800 && yes < 1200, `${yes} of 4000 at 0.25`);
  assert.equal(tracer(0).sampleNew('ffffffffffffffff0000000000000000'), false);
  assert.equal(tracer(1).sampleNew('ffffffffffffffffffffffffffffffff'), true);
});

test('a parent\'s sampled flag wins over the ratio, both ways', () => {
  const sampledParent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const unsampledParent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  assert.equal(continueTrace(sampledParent, tracer(0)).sampled, true);
  assert.equal(continueTrace(unsampledParent, tracer(1)).sampled, false);
  assert.match(continueTrace(unsampledParent, tracer(1)).traceparent, /-00$/);
});

test('without a sampler (tracing off) a new trace is marked sampled, as before', () => {
  const headers: string[] = [];
  const ids = applyTraceContext(headers);
  assert.equal(ids.sampled, true);
  assert.equal(headers[1], `00-${ids.traceId}-${ids.spanId}-01`, 'the span id returned is the one sent on');
});
