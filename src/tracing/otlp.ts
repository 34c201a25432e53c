// Spans → an OTLP/HTTP protobuf body: opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
// field numbers from opentelemetry-proto (trace/v1/trace.proto, common/v1/common.proto). Encoded by hand
// with ProtoWriter rather than through the OpenTelemetry SDK: see README "Tracing" for the measured cost.
import { AttributeShape, isError, spanName, StatusCode, visitAttributes, visitShapeAttributes, type Attribute, type AttributeValue, type AttributeVisitor } from './attributes.js';
import { ProtoWriter } from './proto-writer.js';
import type { Span } from './span.js';

export interface OtlpResource {
  /** Resource attributes: service.name and the telemetry.sdk.* ones. */
  attributes: Attribute[];
  scopeName: string;
  scopeVersion: string;
}

// Span.flags (trace.proto): the low byte is the W3C trace flags; bit 8 says whether bit 9 (parent is remote) is known.
const FLAG_SAMPLED = 0x01;
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

export function encodeExportRequest(spans: readonly Span[], resource: OtlpResource, w = new ProtoWriter()): Buffer {
  w.reset();
  for (const span of spans) encodeSpan(w, span);
  return wrapEncodedSpans(w.finish(), resource);
}

/**
 * The same request around spans already encoded with encodeSpan() (the exporter encodes each span when it is
 * offered, so its queue holds bytes, not Span objects).
 */
export function wrapEncodedSpans(encodedSpans: Buffer, resource: OtlpResource, w = new ProtoWriter()): Buffer {
  w.reset();
  w.bytes(new RequestHead(resource).forSpans(encodedSpans.length));
  w.raw(encodedSpans);
  return w.finish();
}

/**
 * What comes before the spans in an export request: ResourceSpans and ScopeSpans headers (their lengths follow
 * from the spans' length) and the resource and scope, which never change and are encoded once. The exporter
 * writes it in front of a batch it encoded behind a gap of `maxLength` bytes, so a batch is sent from the
 * buffer it was encoded in, with no copy.
 */
export class RequestHead {
  private readonly resource: Uint8Array;
  private readonly scope: Uint8Array;
  private readonly w = new ProtoWriter(256);
  /** The longest head: both lengths as 5-byte varints (a request is under 4 GiB). */
  readonly maxLength: number;

  constructor(r: OtlpResource) {
    const w = new ProtoWriter(256);
    const res = w.begin(1); // ResourceSpans.resource
    for (const a of r.attributes) keyValue(w, 1, a[0], a[1]);
    w.end(res);
    this.resource = new Uint8Array(w.view(0));
    w.reset();
    const scope = w.begin(1); // ScopeSpans.scope
    w.string(1, r.scopeName);
    w.string(2, r.scopeVersion);
    w.end(scope);
    this.scope = new Uint8Array(w.view(0));
    this.maxLength = 2 * (1 + 5) + this.resource.length + this.scope.length;
  }

  /** The head for `spansLength` bytes of encoded spans (a view, valid until the next call). */
  forSpans(spansLength: number): Uint8Array {
    const w = this.w;
    const scopeSpansLength = this.scope.length + spansLength;
    w.reset();
    w.tag(1, 2); // ExportTraceServiceRequest.resource_spans
    w.varint(this.resource.length + 1 + varintLength(scopeSpansLength) + scopeSpansLength);
    w.bytes(this.resource);
    w.tag(2, 2); // ResourceSpans.scope_spans
    w.varint(scopeSpansLength);
    w.bytes(this.scope);
    return w.view(0);
  }
}

function varintLength(v: number): number {
  let n = 1;
  for (; v >= 128; v = Math.floor(v / 128)) n++;
  return n;
}

/** Writes each attribute as a Span.attributes KeyValue; one instance, pointed at the writer per span. */
class AttributeWriter implements AttributeVisitor {
  w: ProtoWriter | undefined;
  str(key: string, value: string): void {
    const k = keyField(key);
    if (k === undefined || !this.w!.shortStringAttribute(9, k, value)) keyValue(this.w!, 9, key, value);
  }
  int(key: string, value: number): void {
    const k = keyField(key);
    if (k === undefined || !Number.isInteger(value) || !this.w!.uintAttribute(9, k, value)) keyValue(this.w!, 9, key, value);
  }
}

// Attribute keys are a fixed set of constants (attributes.ts), so each is encoded once as its KeyValue.key
// field (0x0a, length, ASCII bytes); undefined for a key that is not short ASCII.
const keyFields = new Map<string, Uint8Array | undefined>();

function keyField(key: string): Uint8Array | undefined {
  let k = keyFields.get(key);
  if (k === undefined && !keyFields.has(key)) {
    const bytes = Buffer.from(key, 'utf8');
    k = bytes.length < 100 && bytes.length === key.length ? Uint8Array.from([0x0a, bytes.length, ...bytes]) : undefined;
    keyFields.set(key, k);
  }
  return k;
}
const attributeWriter = new AttributeWriter();

/**
 * The encoded shape attributes (attributes.ts, visitShapeAttributes) of the last span per endpoint: the next
 * span of the same shape copies them in one memcpy instead of writing ~15 KeyValues byte by byte, which was
 * most of a span's encoding. Bounded; cleared when full (endpoints come and go).
 */
interface ShapeBytes { shape: AttributeShape; bytes: Uint8Array }
const shapes = new Map<string, ShapeBytes>();
const MAX_SHAPES = 256;
/** A block longer than this (long service names, caller ids) is written every time rather than kept. */
const MAX_SHAPE_BYTES = 1024;

function shapeAttributes(span: Span): void {
  const w = attributeWriter.w!;
  const key = span.tryEndpoint ?? '';
  let kept = shapes.get(key);
  if (kept !== undefined && kept.shape.matches(span)) { w.bytes(kept.bytes); return; }
  const start = w.length;
  visitShapeAttributes(span, attributeWriter);
  const written = w.view(start);
  if (written.length > MAX_SHAPE_BYTES) return;
  if (kept === undefined) {
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    kept = { shape: new AttributeShape(), bytes: new Uint8Array(written) };
    shapes.set(key, kept);
  } else if (kept.bytes.length === written.length) kept.bytes.set(written);
  else kept.bytes = new Uint8Array(written);
  kept.shape.take(span);
}

/** One ScopeSpans.spans entry (field 2), so encoded spans can be concatenated inside a ScopeSpans. */
export function encodeSpan(w: ProtoWriter, span: Span): void {
  const s = w.begin(2); // ScopeSpans.spans
  w.hexBytes(1, span.traceId);
  w.hexBytes(2, span.spanId);
  if (span.parentSpanId !== undefined) w.hexBytes(4, span.parentSpanId);
  w.string(5, spanName(span));
  w.uint(6, span.kind);
  w.epochNanos(7, span.startEpochMs);
  w.epochNanos(8, span.startEpochMs + span.durationMs);
  attributeWriter.w = w;
  visitAttributes(span, attributeWriter, shapeAttributes);
  attributeWriter.w = undefined;
  if (span.events !== undefined) {
    for (const e of span.events) {
      const ev = w.begin(11);
      w.epochNanos(1, span.startEpochMs + e.atMs);
      w.string(2, e.name);
      keyValue(w, 3, 'mesh.retry.reason', e.reason);
      keyValue(w, 3, 'mesh.endpoint', e.endpoint);
      w.end(ev);
    }
  }
  const error = isError(span);
  const st = w.begin(15);
  if (error) w.string(2, span.cause ?? `status ${span.status}`);
  w.uint(3, error ? StatusCode.error : StatusCode.unset);
  w.end(st);
  w.fixed32(16, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | (span.parentSpanId === undefined ? 0 : FLAG_IS_REMOTE));
  w.end(s);
}

/** KeyValue { key = 1; AnyValue value = 2 }, AnyValue { string = 1; bool = 2; int = 3; double = 4 }. */
function keyValue(w: ProtoWriter, field: number, key: string, value: AttributeValue): void {
  const kv = w.begin(field);
  w.string(1, key);
  const v = w.begin(2);
  if (typeof value === 'string') w.string(1, value);
  else if (typeof value === 'boolean') w.bool(2, value);
  else if (Number.isInteger(value) && value >= 0) w.uint(3, value);
  else w.double(4, value);
  w.end(v);
  w.end(kv);
}
