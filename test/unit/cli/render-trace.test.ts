// Golden-file tests for `mesh trace` renderers (UPDATE_GOLDEN=1 rewrites test/unit/cli/golden/trace-*.txt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTraceList, renderWaterfall } from '../../../src/cli/render/trace.js';
import { mergeSpans, mergeSummaries } from '../../../src/tracing/collect.js';
import type { TraceSpanJson, TraceSummary } from '../../../src/tracing/json.js';
import { golden } from '../../helpers/golden.js';

const T0 = 1_700_000_000_000;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function span(p: Partial<TraceSpanJson> & Pick<TraceSpanJson, 'spanId' | 'kind' | 'service' | 'startEpochMs' | 'durationMs'>): TraceSpanJson {
  return {
    traceId: TRACE, parentSpanId: null, name: 'GET', method: 'GET', path: '/checkout', status: 200, error: false, fate: 'ok', cause: null,
    tries: [], events: [], attributes: {}, ...p,
  };
}

// web's outbound proxy → orders' sidecar → orders app → outbound proxy → (retry) → payments' sidecar.
const spans: TraceSpanJson[] = [
  span({ spanId: 'a1', kind: 'client', service: 'orders', startEpochMs: T0, durationMs: 120, tries: [{ endpoint: '10.0.0.7:8080', start: 0.1, connected: 2.1, headers: 110, end: 120, status: 200, failure: '' }] }),
  span({ spanId: 'b1', parentSpanId: 'a1', kind: 'server', service: 'orders', startEpochMs: T0 + 3, durationMs: 105, tries: [{ endpoint: '127.0.0.1:7001', start: 0.05, connected: 0.3, headers: 100, end: 105, status: 200, failure: '' }] }),
  span({
    spanId: 'c1', parentSpanId: 'b1', kind: 'client', service: 'payments', name: 'pay.Payments/Charge', method: 'POST', path: '/pay.Payments/Charge', startEpochMs: T0 + 10, durationMs: 80,
    attributes: { 'rpc.grpc.status_code': 0 }, events: [{ atMs: 30, name: 'mesh.retry', reason: 'connect', endpoint: '10.0.0.9:9090' }],
    tries: [
      { endpoint: '10.0.0.9:9090', start: 0.2, connected: -1, headers: -1, end: 30, status: 0, failure: 'connect' },
      { endpoint: '10.0.0.10:9090', start: 30.1, connected: 32, headers: 75, end: 80, status: 200, failure: '' },
    ],
  }),
  span({ spanId: 'd1', parentSpanId: 'c1', kind: 'server', service: 'payments', name: 'pay.Payments/Charge', method: 'POST', path: '/pay.Payments/Charge', startEpochMs: T0 + 43, durationMs: 40, status: 200, attributes: { 'rpc.grpc.status_code': 0 } }),
];

test('waterfall: spans nested by parent on one time axis, tries with their phases, the retried try with its reason', () => {
  golden('trace-waterfall.txt', renderWaterfall(TRACE, spans, { color: false, now: T0 + 5_000 }));
});

test('waterfall of a failed request marks the cause', () => {
  const failed = [span({ spanId: 'e1', kind: 'client', service: 'orders', startEpochMs: T0, durationMs: 1000, status: 504, error: true, cause: 'upstream-timeout',
    tries: [{ endpoint: '10.0.0.7:8080', start: 0, connected: 1, headers: -1, end: 1000, status: 0, failure: 'upstream-timeout' }] })];
  golden('trace-waterfall-timeout.txt', renderWaterfall(TRACE, failed, { color: false, now: T0 }));
});

test('trace list: newest first, with age, request, status, duration, spans and retries', () => {
  const list: TraceSummary[] = [
    { traceId: TRACE, service: 'orders', method: 'GET', path: '/checkout', status: 200, error: false, startEpochMs: T0 - 4_000, durationMs: 120, spans: 4, retries: 1 },
    { traceId: '0af7651916cd43dd8448eb211c80319c', service: 'orders', method: 'POST', path: '/orders', status: 503, error: true, startEpochMs: T0 - 95_000, durationMs: 1002.5, spans: 1, retries: 2 },
  ];
  golden('trace-list.txt', renderTraceList(list, { color: false, now: T0 }));
  assert.match(renderTraceList([], { color: false, now: T0 }), /no traces recorded yet/);
});

test('merging proxies\' answers: one summary per trace (earliest start, latest end, spans added), each span once', () => {
  const a: TraceSummary = { traceId: TRACE, service: 'orders', method: 'GET', path: '/', status: 200, error: false, startEpochMs: T0, durationMs: 100, spans: 2, retries: 0 };
  const b: TraceSummary = { ...a, service: 'payments', startEpochMs: T0 + 10, durationMs: 150, spans: 1, retries: 1, error: true };
  assert.deepEqual(mergeSummaries([[a], [b]]), [{ ...a, durationMs: 160, spans: 3, retries: 1, error: true }]);
  assert.deepEqual(mergeSpans([spans.slice(0, 2), spans.slice(1)]).map((s) => s.spanId), ['a1', 'b1', 'c1', 'd1']);
});
