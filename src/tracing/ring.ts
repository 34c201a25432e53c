// What a proxy remembers of its spans for `mesh trace`, with no collector: the last `capacity` spans in a ring
// (the oldest overwritten), and per service the slowest few of the last `slowWindowMs`. Fed only with sampled
// spans, after they ended; read only by the admin server, synchronously (recent() hands out the ring's own
// slots, which the next add() may overwrite).
//
// The ring's slots are Span objects made once and overwritten with copyFrom(): the ring keeps no reference to
// the request's span, so at 100% sampling the spans die young instead of every one being promoted to V8's old
// generation (a span stayed alive for the last 2048 requests). The slowest lists keep the span itself (few).
import { Span } from './span.js';

export class SpanRing {
  private readonly spans: Array<Span | undefined>;
  private next = 0;
  private readonly slow = new Map<string, Span[]>();

  constructor(
    readonly capacity = 2048,
    private readonly slowPerService = 10,
    private readonly slowWindowMs = 10 * 60_000,
  ) {
    this.spans = new Array<Span | undefined>(capacity);
  }

  add(span: Span): void {
    const slot = this.spans[this.next] ??= Span.blank();
    slot.copyFrom(span);
    this.next = (this.next + 1) % this.capacity;
    this.keepIfSlow(span);
  }

  /** The spans still in the ring, oldest first. */
  recent(): Span[] {
    const out: Span[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const s = this.spans[(this.next + i) % this.capacity];
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** Every span of one trace this proxy still has (ring and slowest lists). */
  trace(traceId: string): Span[] {
    // A span both in the ring (a copy) and among the slowest (the span itself) is given once.
    const found = new Map<string, Span>();
    for (const s of this.recent()) if (s.traceId === traceId) found.set(s.spanId, s);
    for (const list of this.slow.values()) for (const s of list) if (s.traceId === traceId) found.set(s.spanId, s);
    return [...found.values()];
  }

  /** The slowest spans of the window, per service (or of one service), slowest first. */
  slowest(service?: string): Span[] {
    const cutoff = performance.timeOrigin + performance.now() - this.slowWindowMs;
    const lists = service === undefined ? [...this.slow.values()] : [this.slow.get(service) ?? []];
    return lists.flat().filter((s) => s.startEpochMs >= cutoff).sort((a, b) => b.durationMs - a.durationMs);
  }

  private keepIfSlow(span: Span): void {
    let list = this.slow.get(span.service);
    if (list === undefined) { list = []; this.slow.set(span.service, list); }
    const cutoff = span.startEpochMs - this.slowWindowMs;
    let fastest = -1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.startEpochMs < cutoff) { list.splice(i, 1); continue; }
    }
    if (list.length < this.slowPerService) { list.push(span); return; }
    for (let i = 0; i < list.length; i++) if (fastest < 0 || list[i]!.durationMs < list[fastest]!.durationMs) fastest = i;
    if (list[fastest]!.durationMs < span.durationMs) list[fastest] = span;
  }
}
