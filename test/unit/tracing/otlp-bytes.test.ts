// Byte-exact OTLP output: a table of spans of every shape the proxy makes, encoded one by one and in sequences
// (where any state the encoder keeps between spans could leak from one span into the next), against golden
// bytes written by the encoder before it was optimized. UPDATE_GOLDEN=1 rewrites test/unit/tracing/golden/
// after a deliberate change of the wire format; review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodeSpan, wrapEncodedSpans } from '../../../src/tracing/otlp.js';
import { ProtoWriter } from '../../../src/tracing/proto-writer.js';
import { Span, SpanKind } from '../../../src/tracing/span.js';
import { golden } from '../../helpers/golden.js';
import { REPO_ROOT } from '../../helpers/mesh.js';
import { decodeExport } from '../../helpers/otlp-receiver.js';

const DIR = join(REPO_ROOT, 'test', 'unit', 'tracing', 'golden');
const RESOURCE = { attributes: [['service.name', 'mesh-proxy'], ['telemetry.sdk.name', 'mesh']] as Array<[string, string]>, scopeName: 'mesh', scopeVersion: '0.1.0' };
const NO_SINK = { spanEnded: () => undefined };
const T0 = 1_700_000_000_000.123456;

interface Shape {
  kind?: SpanKind; service?: string; method?: string; path?: string; protocol?: string; grpc?: boolean; requestId?: string | undefined;
  parent?: boolean; tries?: Array<{ endpoint: string; status: number; failure?: string }>; status?: number; cause?: string;
  grpcStatus?: string; callerId?: string; peerAddress?: string; durationMs?: number;
}

/** A span with fixed ids and times (no clock), built as the proxy's hooks would leave it. */
function make(i: number, s: Shape): Span {
  const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
  const span = new Span(NO_SINK, { traceId: `4bf92f3577b34da6${hex(i, 16)}`, spanId: `00f067aa${hex(i, 8)}`, parentSpanId: s.parent === false ? undefined : `aaaaaaaa${hex(i, 8)}` },
    s.kind ?? SpanKind.client, s.service ?? 'orders', s.method ?? 'GET', s.path ?? '/orders/1', s.protocol ?? '1.1', s.grpc ?? false,
    'requestId' in s ? s.requestId : `9f8e7d6c-0000-4000-8000-${hex(i, 12)}`);
  span.t0 = 1000 + i;
  span.startEpochMs = T0 + i * 1.000001;
  const tries = s.tries ?? [{ endpoint: '10.0.0.7:8080', status: s.status ?? 200 }];
  tries.forEach((t, n) => {
    span.tryStart(t.endpoint);
    span.tryStartMs = n * 10 + 0.25;
    span.tryConnectedMs = n * 10 + 1.5;
    span.tryHeadersMs = t.status === 0 ? -1 : n * 10 + 7.75;
    span.tryStatus = t.status;
    if (n < tries.length - 1) { span.retry(t.failure ?? 'status-503'); span.events!.at(-1)!.atMs = n * 10 + 8; span.tryEndMs = n * 10 + 8; }
  });
  if (s.grpcStatus !== undefined) span.grpcStatus = s.grpcStatus;
  if (s.callerId !== undefined) span.callerId = s.callerId;
  if (s.peerAddress !== undefined) span.peerAddress = s.peerAddress;
  span.end(s.status ?? 200, s.cause);
  span.durationMs = s.durationMs ?? 12.5 + i;
  if (span.tryEndpoint !== undefined) span.tryEndMs = span.durationMs;
  return span;
}

const gp = { grpc: true, protocol: '2', method: 'POST', path: '/pay.Payments/Charge', service: 'payments', tries: [{ endpoint: '10.0.0.9:9090', status: 200 }] };
const server = { kind: SpanKind.server, tries: [{ endpoint: '127.0.0.1:7001', status: 200 }], peerAddress: '10.0.0.3', callerId: 'spiffe://mesh.local/ns/default/sa/web' };
/** Neighbours differ in one field, so a value kept from the span before would show. */
const SHAPES: Shape[] = [
  {}, {}, { tries: [{ endpoint: '10.0.0.8:8080', status: 200 }] }, {}, { status: 503 }, { status: 404 }, { method: 'POST' }, { path: '/orders/2?token=x' },
  { protocol: '2' }, { service: 'billing' }, { parent: false }, { requestId: undefined }, { requestId: 'short' },
  { tries: [{ endpoint: '10.0.0.7:8080', status: 503 }, { endpoint: '10.0.0.8:8080', status: 200 }] },
  { tries: [{ endpoint: '10.0.0.7:8080', status: 0, failure: 'connect' }, { endpoint: '10.0.0.7:8080', status: 200 }] },
  { tries: [], status: 503, cause: 'no-healthy-endpoint' }, { tries: [{ endpoint: '10.0.0.7:8080', status: 0 }], status: 0, cause: 'client-closed' },
  { tries: [{ endpoint: '10.0.0.7:8080', status: 0 }], status: 504, cause: 'upstream-timeout' }, { status: 502, cause: 'upstream-reset' },
  { tries: [{ endpoint: '[::1]:8080', status: 200 }] }, { tries: [{ endpoint: 'no-port', status: 200 }] }, { tries: [{ endpoint: '10.0.0.7:99999999999', status: 200 }] },
  gp, { ...gp, grpcStatus: '0' }, { ...gp, grpcStatus: '14' }, { ...gp, grpcStatus: '14', path: '/pay.Payments/Refund' }, { ...gp, path: '/' }, { ...gp, grpc: false },
  server, server, { ...server, peerAddress: '10.0.0.4' }, { ...server, callerId: 'spiffe://mesh.local/ns/default/sa/api' }, { ...server, callerId: undefined },
  { ...server, peerAddress: undefined }, { ...server, kind: SpanKind.client },
  { service: 'ördérs' }, { path: `/ünïcødé/${'x'.repeat(300)}` }, { path: `/${'y'.repeat(140)}` }, { requestId: 'r'.repeat(200) },
  { service: 's'.repeat(120) }, { tries: [{ endpoint: `${'h'.repeat(100)}:8080`, status: 200 }] }, { durationMs: 0 }, {},
];
const spans = SHAPES.map((s, i) => make(i, s));

/** Each span's ScopeSpans.spans entry, encoded in `order` into one writer. */
function encodeInOrder(order: number[]): Map<number, string> {
  const w = new ProtoWriter(32);
  const out = new Map<number, string>();
  for (const i of order) {
    const before = w.length;
    encodeSpan(w, spans[i]!);
    out.set(i, w.finish().subarray(before).toString('hex'));
  }
  return out;
}

test('every span shape encodes to the same bytes as before, one by one, in sequence and in reverse', () => {
  const forward = encodeInOrder(spans.map((_, i) => i));
  golden('otlp-spans.hex', `${[...forward.values()].join('\n')}\n`, DIR);
  const reverse = encodeInOrder(spans.map((_, i) => spans.length - 1 - i));
  const alone = spans.map((_, i) => encodeInOrder([i]).get(i)!);
  spans.forEach((_, i) => {
    assert.equal(reverse.get(i), forward.get(i), `span ${i} (${JSON.stringify(SHAPES[i])}) in reverse order`);
    assert.equal(alone[i], forward.get(i), `span ${i} (${JSON.stringify(SHAPES[i])}) alone`);
  });
  // Every span, twice over, alternating with its neighbour: a cache that keyed on too little would show here.
  const zigzag = encodeInOrder(spans.flatMap((_, i) => (i === 0 ? [0] : [i, i - 1, i])));
  spans.forEach((_, i) => assert.equal(zigzag.get(i), forward.get(i), `span ${i} after its neighbour`));
});

test('the export request around the encoded spans is the same bytes as before and decodes', () => {
  const w = new ProtoWriter(32);
  for (const s of spans) encodeSpan(w, s);
  const body = wrapEncodedSpans(w.finish(), RESOURCE);
  golden('otlp-request.hex', `${body.toString('hex')}\n`, DIR);
  const decoded = decodeExport(body);
  assert.deepEqual(decoded.map((d) => d.spanId), spans.map((s) => s.spanId));
});
