import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTracing } from '../../../src/tracing/settings.js';
import { MeshError } from '../../../src/core/errors.js';

test('tracing is off without an endpoint or --trace-sample', () => {
  assert.equal(resolveTracing({}, {}, 'mesh-proxy'), undefined);
});

test('endpoint precedence: flag, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, then OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces', () => {
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://a:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/base/' };
  assert.equal(resolveTracing({ traceEndpoint: 'http://c:4318' }, env, 'x')!.endpoint, 'http://c:4318/v1/traces');
  assert.equal(resolveTracing({ traceEndpoint: 'http://c:4318/otlp/v1/traces' }, env, 'x')!.endpoint, 'http://c:4318/otlp/v1/traces');
  assert.equal(resolveTracing({}, env, 'x')!.endpoint, 'http://a:4318/custom');
  assert.equal(resolveTracing({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/base/' }, 'x')!.endpoint, 'http://b:4318/base/v1/traces');
  assert.equal(resolveTracing({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'x')!.endpoint, 'http://b:4318/v1/traces');
});

test('OTEL_SERVICE_NAME and the batch processor variables; flags win', () => {
  const s = resolveTracing({ traceSample: 0.5, traceBatchSize: 10 }, { OTEL_SERVICE_NAME: 'edge', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '99', OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_SCHEDULE_DELAY: '250' }, 'mesh-proxy')!;
  assert.deepEqual({ ...s }, { endpoint: undefined, sampleRatio: 0.5, serviceName: 'edge', maxQueueSize: 100, maxBatchSize: 10, batchDelayMs: 250, exportTimeoutMs: 10_000 });
  assert.equal(resolveTracing({ traceSample: 1 }, {}, 'orders')!.serviceName, 'orders');
});

test('a bad endpoint or variable is a usage error naming it', () => {
  assert.throws(() => resolveTracing({ traceEndpoint: 'collector:4318' }, {}, 'x'), (e: MeshError) => e.code === 'MESH_ERR_USAGE' && /--trace-endpoint/.test(e.message));
  assert.throws(() => resolveTracing({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://x' }, 'x'), /OTEL_EXPORTER_OTLP_ENDPOINT/);
  assert.throws(() => resolveTracing({ traceSample: 1 }, { OTEL_BSP_MAX_QUEUE_SIZE: 'lots' }, 'x'), /OTEL_BSP_MAX_QUEUE_SIZE/);
});
