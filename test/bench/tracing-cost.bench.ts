// `npm run bench:tracing`: what one span costs, mesh's own span + hand-written OTLP encoding against the
// OpenTelemetry JS SDK (sdk-trace-base 2.x span, otlp-transformer 0.2xx protobuf serializer), both doing the
// same work per request: start a client span under a remote parent, one retry event, the attributes, end,
// then encode in batches of 512. mesh runs its proxy's pipeline: at end() the span is copied into the ring
// (SpanRing, 2048 slots) and encoded into the open batch (as SpanExporter.offer does), and the export timer
// only writes the request's head in front of each batch of 512. The SDK keeps its ended spans and serializes each batch.
// Prints ns per span for each half (at the request's end / on the export timer) and the heap left per
// queued span. Not a test: prints numbers.
import { context, trace, SpanKind as OtelKind, TraceFlags } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeSpan, RequestHead } from '../../src/tracing/otlp.js';
import { ProtoWriter } from '../../src/tracing/proto-writer.js';
import { SpanRing } from '../../src/tracing/ring.js';
import { Span, SpanKind } from '../../src/tracing/span.js';
import { continueTrace } from '../../src/metrics/trace.js';

const N = Number(process.env.BENCH_SPANS ?? 100_000);
const BATCH = 512;
const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const RESOURCE = { attributes: [['service.name', 'bench']] as Array<[string, string]>, scopeName: 'mesh', scopeVersion: '0.1.0' };

function mesh(): { hot: number; encode: number; bytes: number } {
  const ring = new SpanRing();
  const head = new RequestHead(RESOURCE);
  const writer = () => { const w = new ProtoWriter(); w.reset(head.maxLength); return w; };
  let open = writer();
  const batches: ProtoWriter[] = [];
  let inBatch = 0;
  const sink = {
    spanEnded: (s: Span) => {
      ring.add(s);
      encodeSpan(open, s);
      if (++inBatch === BATCH) { batches.push(open); open = writer(); inBatch = 0; }
    },
  };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const ids = continueTrace(PARENT);
    const s = new Span(sink, ids, SpanKind.client, 'orders', 'GET', '/orders/1', '1.1', false, 'req-1');
    s.tryStart('10.0.0.7:8080'); s.tryConnected(); s.tryHeaders(503); s.retry('status-503');
    s.tryStart('10.0.0.8:8080'); s.tryConnected(); s.tryHeaders(200);
    s.end(200, undefined);
  }
  if (inBatch > 0) batches.push(open);
  const t1 = process.hrtime.bigint();
  let bytes = 0;
  // As SpanExporter.send: the request's head written in front of the batch, sent from the batch's buffer.
  for (const b of batches) bytes += b.prepend(head.forSpans(b.length - head.maxLength), head.maxLength).length;
  const t2 = process.hrtime.bigint();
  return { hot: Number(t1 - t0) / N, encode: Number(t2 - t1) / N, bytes: bytes / N };
}

function sdk(): { hot: number; encode: number; bytes: number } {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart: () => undefined, onEnd: (s) => { ended.push(s); }, forceFlush: async () => undefined, shutdown: async () => undefined };
  const tracer = new BasicTracerProvider({ spanProcessors: [collect] }).getTracer('mesh', '0.1.0');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const parent = trace.setSpanContext(context.active(), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const s = tracer.startSpan('GET', { kind: OtelKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.path': '/orders/1', 'server.address': 'orders', 'mesh.service': 'orders', 'mesh.request_id': 'req-1' } }, parent);
    s.addEvent('mesh.retry', { 'mesh.retry.reason': 'status-503', 'mesh.endpoint': '10.0.0.7:8080' });
    s.setAttributes({ 'http.response.status_code': 200, 'server.port': 8080, 'network.peer.address': '10.0.0.8', 'mesh.endpoint': '10.0.0.8:8080', 'mesh.tries': 2, 'mesh.retries': 1, 'mesh.fate': 'okAfterRetry' });
    s.end();
  }
  const t1 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < ended.length; i += BATCH) bytes += ProtobufTraceSerializer.serializeRequest(ended.slice(i, i + BATCH))!.length;
  const t2 = process.hrtime.bigint();
  return { hot: Number(t1 - t0) / N, encode: Number(t2 - t1) / N, bytes: bytes / N };
}

function heapPerSpan(make: () => unknown[]): number {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const kept = make();
  globalThis.gc?.();
  const per = (process.memoryUsage().heapUsed - before) / kept.length;
  return Math.round(per);
}

for (let round = 0; round < 2; round++) { mesh(); sdk(); } // warm-up
const m = mesh();
const o = sdk();
console.log(`per span, ${N} spans, batches of ${BATCH} (ns; lower is better)`);
console.log(`                               at the request's end  on the export timer       OTLP bytes`);
console.log(`mesh Span + ProtoWriter        ${m.hot.toFixed(0).padStart(8)}              ${m.encode.toFixed(0).padStart(8)}                ${m.bytes.toFixed(0)}`);
console.log(`OTel SDK span + serializer     ${o.hot.toFixed(0).padStart(8)}              ${o.encode.toFixed(0).padStart(8)}                ${o.bytes.toFixed(0)}`);
if (globalThis.gc) {
  // What stays on the heap per span the proxy remembers: a ring slot (the exporter's queue holds encoded bytes, outside the heap).
  const meshHeap = heapPerSpan(() => { const ring = new SpanRing(20_000); const sink = { spanEnded: (s: Span) => { ring.add(s); } }; for (let i = 0; i < 20_000; i++) { const s = new Span(sink, continueTrace(PARENT), SpanKind.client, 'orders', 'GET', '/orders/1', '1.1', false, 'req-1'); s.tryStart('10.0.0.7:8080'); s.tryHeaders(200); s.end(200, undefined); } return ring.recent(); });
  console.log(`heap per span in the ring: mesh ≈ ${meshHeap} B`);
} else console.log('(run with node --expose-gc for the heap per queued span)');
