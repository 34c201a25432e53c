// The exporter sends each batch from the buffer it was encoded in, with the request's head written in front
// and the buffer reused for later batches: what a collector receives must still be exactly the request that
// encoding the batch's spans afresh gives (a reused buffer must not leak a longer earlier batch's bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanExporter } from '../../../src/tracing/exporter.js';
import { encodeExportRequest } from '../../../src/tracing/otlp.js';
import { Span, SpanKind } from '../../../src/tracing/span.js';
import { startOtlpReceiver } from '../../helpers/otlp-receiver.js';

const RESOURCE = { attributes: [['service.name', 'exporter-test'], ['telemetry.sdk.name', 'mesh']] as Array<[string, string]>, scopeName: 'mesh', scopeVersion: '0.1.0' };

function span(i: number, path: string): Span {
  const s = new Span({ spanEnded: () => undefined }, { traceId: `4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, '0')}`, spanId: `00f067aa0ba902${String(i).padStart(2, '0')}` },
    SpanKind.client, 'orders', 'GET', path, '1.1', false, `req-${i}`);
  s.tryStart(`10.0.0.${i}:8080`);
  s.tryHeaders(200);
  s.end(200, undefined);
  return s;
}

test('batches sent from reused buffers are byte for byte the requests their spans encode to', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const exporter = new SpanExporter({
    url: receiver.url, resource: RESOURCE, maxQueueSize: 100, maxBatchSize: 3, batchDelayMs: 60_000, exportTimeoutMs: 5_000,
    maxAttempts: 1, initialBackoffMs: 10, log: () => undefined,
  });
  // Long spans first (a batch of several KiB, lengths past one varint byte), then shorter ones in the same buffers.
  const batches = [
    [span(1, `/${'a'.repeat(3000)}`), span(2, `/${'b'.repeat(3000)}`), span(3, '/c')],
    [span(4, '/d'), span(5, '/e'), span(6, '/f')],
    [span(7, `/${'g'.repeat(200)}`), span(8, '/h'), span(9, '/i')],
    [span(10, '/j'), span(11, '/k'), span(12, '/l')],
  ];
  for (const [n, batch] of batches.entries()) {
    for (const s of batch) exporter.offer(s);
    await receiver.waitForSpans((got) => got.length === batches.slice(0, n + 1).flat().length);
  }
  await exporter.close();
  assert.equal(receiver.bodies.length, batches.length);
  batches.forEach((batch, n) => assert.deepEqual(receiver.bodies[n], encodeExportRequest(batch, RESOURCE), `batch ${n + 1}`));
});
