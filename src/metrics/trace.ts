// W3C trace context and request ids, so traces and logs join up across hops.
//
// The proxy, per request:
//   const tp = continueTrace(req.headers.traceparent);   // keeps the trace id, new span id, parent = incoming span
//   upstreamHeaders.traceparent = tp.traceparent;         // forward `tracestate` as is when tp.continued, drop it otherwise
//   const requestId = ensureRequestId(req.headers['x-request-id']);
//   upstreamHeaders['x-request-id'] = requestId;          // and log tp.traceId + requestId in the access log
//
// Random ids come from a pooled buffer filled by crypto.randomFillSync 4 KiB at a time, not a syscall and a
// UUID object per request.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolHex = '';
let poolOffset = POOL_SIZE;

/** n random bytes as hex: a slice of the pool's hex string, which is made once per 4 KiB of randomness. */
function hexBytes(n: number): string {
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    poolOffset = 0;
  }
  const s = poolHex.slice(poolOffset * 2, (poolOffset + n) * 2);
  poolOffset += n;
  return s;
}

export interface TraceContext {
  /** The header to send upstream: `00-<trace id>-<new span id>-<flags>`. */
  traceparent: string;
  traceId: string;
  spanId: string;
  /** The incoming span id (the new span's parent), when the request carried a valid traceparent. */
  parentSpanId?: string;
  /** Whether an incoming trace was kept (then `tracestate` is forwarded too). */
  continued: boolean;
  /** The sampled flag sent on: the parent's, or the sampler's decision for a new trace (always, without one). */
  sampled: boolean;
}

/** Decides whether a new trace is recorded (src/tracing/tracer.ts); without one every new trace says sampled. */
export interface TraceSampler { sampleNew(traceId: string): boolean }

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parses a traceparent header per W3C Trace Context level 1; undefined when absent or invalid. */
export function parseTraceparent(header: string | string[] | undefined): { version: string; traceId: string; spanId: string; flags: string } | undefined {
  if (typeof header !== 'string' || header.length < 55) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields; later versions may append fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { version, traceId, spanId, flags };
}

/** Keeps an incoming trace (with a new span id whose parent is the incoming span) or starts a sampled one. */
export function continueTrace(header: string | string[] | undefined, sampler?: TraceSampler): TraceContext {
  const spanId = hexBytes(8);
  const parent = parseTraceparent(header);
  if (parent) {
    // We speak version 00: keep only the sampled bit of unknown future flags. Parent-based sampling: the
    // parent's sampled bit decides, both ways.
    const sampled = (parseInt(parent.flags, 16) & 1) === 1;
    const flags = parent.version === '00' ? parent.flags : (sampled ? '01' : '00');
    return { traceparent: `00-${parent.traceId}-${spanId}-${flags}`, traceId: parent.traceId, spanId, parentSpanId: parent.spanId, continued: true, sampled };
  }
  const traceId = hexBytes(16);
  const sampled = sampler === undefined || sampler.sampleNew(traceId);
  return { traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`, traceId, spanId, continued: false, sampled };
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** Keeps a sane incoming x-request-id (1–200 visible ASCII characters) or makes a UUID v4. */
export function ensureRequestId(header: string | string[] | undefined): string {
  if (typeof header === 'string' && REQUEST_ID.test(header)) return header;
  return newRequestId();
}

/** A random UUID v4 from the pool. */
export function newRequestId(): string {
  const h = hexBytes(16);
  const variant = '89ab'[parseInt(h[16]!, 16) & 3]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Applies trace context to the headers going upstream, in place, as undici's flat `[name, value, …]` array:
 * `traceparent` continued (or started), `tracestate` kept only with a continued trace, `x-request-id` kept
 * or added. One pass over the array; returns the ids for the access log and the span. With a sampler (tracing
 * on), a new trace's sampled flag is the sampler's decision.
 *
 *   const headers = upstreamHeaders(...);            // src/proxy/http1/server.ts
 *   const ids = applyTraceContext(headers);          // then hand ids.requestId / ids.traceId to the access log
 */
export function applyTraceContext(headers: string[], sampler?: TraceSampler): AppliedTrace {
  let tp = -1;
  let ts = -1;
  let rid = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const len = name.length;
    if (len === 11 && tp < 0 && name.toLowerCase() === 'traceparent') tp = i;
    else if (len === 10 && ts < 0 && name.toLowerCase() === 'tracestate') ts = i;
    else if (len === 12 && rid < 0 && name.toLowerCase() === 'x-request-id') rid = i;
  }
  const trace = continueTrace(tp < 0 ? undefined : headers[tp + 1], sampler);
  if (tp < 0) headers.push('traceparent', trace.traceparent);
  else headers[tp + 1] = trace.traceparent;
  let requestId: string;
  if (rid < 0) {
    requestId = newRequestId();
    headers.push('x-request-id', requestId);
  } else {
    requestId = ensureRequestId(headers[rid + 1]);
    headers[rid + 1] = requestId;
  }
  // A tracestate belongs to the trace it came with; without that trace it must go (W3C Trace Context §3.3).
  if (ts >= 0 && !trace.continued) headers.splice(ts, 2);
  return { requestId, traceId: trace.traceId, spanId: trace.spanId, parentSpanId: trace.parentSpanId, sampled: trace.sampled };
}

/** What applyTraceContext sent upstream: the ids for the access log, and the span the proxy now stands for. */
export interface AppliedTrace {
  requestId: string;
  traceId: string;
  /** The span id in the traceparent sent on: the id of the span this proxy records for the request. */
  spanId: string;
  parentSpanId: string | undefined;
  sampled: boolean;
}
