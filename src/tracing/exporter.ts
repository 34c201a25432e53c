// Sends ended spans to an OTLP/HTTP collector (protobuf), off the request path: spans wait in a bounded queue
// (a full queue drops the new span and counts it), a batch leaves when it is full or when the oldest span has
// waited `batchDelayMs`, one export is in flight at a time, and a failed export (network error, 429, 502,
// 503, 504: the OTLP spec's retryable answers) is retried with exponential backoff before the batch is given up.
// The proxy only ever calls offer(): it encodes the span into the open batch's buffer (or counts a drop when
// the queue is full), so the queue holds bytes and no Span outlives its request long enough to reach V8's old
// generation (see README "Tracing" for the measured cost).
import { Agent } from '../core/undici-parts.js';
import { encodeSpan, RequestHead, type OtlpResource } from './otlp.js';
import { ProtoWriter } from './proto-writer.js';
import type { Span } from './span.js';

export interface ExporterOptions {
  /** The full traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  url: string;
  resource: OtlpResource;
  maxQueueSize: number;
  maxBatchSize: number;
  batchDelayMs: number;
  /** How long one export may take before it counts as failed. */
  exportTimeoutMs: number;
  /** Tries per batch (first one included) before its spans are dropped. */
  maxAttempts: number;
  /** Backoff before the first retry; doubled each time, capped at 30 s. */
  initialBackoffMs: number;
  log: (line: string) => void;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_BACKOFF_MS = 30_000;
/** Writers kept for later batches: the one being sent comes back while the next fills. */
const MAX_SPARE_WRITERS = 2;
/** Export failures are logged at most this often. */
const LOG_EVERY_MS = 60_000;

interface Batch { writer: ProtoWriter; count: number }

export class SpanExporter {
  /** Spans dropped: queue full, or their batch failed every try or was refused. */
  dropped = 0;
  exported = 0;
  /** Full batches, encoded, oldest first, waiting to be sent. */
  private sealed: Batch[] = [];
  /**
   * The batch being filled: its spans encoded back to back (ScopeSpans.spans entries) behind a gap for the
   * request's head, so the batch goes out from this buffer as it is (see send()).
   */
  private open: ProtoWriter;
  private openCount = 0;
  /** Writers of batches that were sent, for the next batches: no new buffer (and no copy) per batch. */
  private readonly spare: ProtoWriter[] = [];
  private readonly head: RequestHead;
  /** Spans waiting (sealed and open batches). */
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;
  private lastLog = 0;
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly path: string;

  constructor(private readonly opts: ExporterOptions) {
    const url = new URL(opts.url);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.head = new RequestHead(opts.resource);
    this.open = this.newWriter();
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 4_000, connectTimeout: opts.exportTimeoutMs });
  }

  /** The request path's only call: queue the span (encoded), or drop and count it. */
  offer(span: Span): void {
    if (this.waiting >= this.opts.maxQueueSize || this.closed) { this.dropped++; return; }
    encodeSpan(this.open, span);
    this.waiting++;
    if (++this.openCount >= this.opts.maxBatchSize) this.seal();
    if (this.busy) return;
    if (this.sealed.length > 0) this.schedule(0);
    else if (this.timer === undefined) this.schedule(this.opts.batchDelayMs);
  }

  get queued(): number { return this.waiting; }

  /** Closes the open batch (full, or the delay is over) and queues it to be sent. */
  private seal(): void {
    if (this.openCount === 0) return;
    this.sealed.push({ writer: this.open, count: this.openCount });
    this.open = this.newWriter();
    this.openCount = 0;
  }

  private newWriter(): ProtoWriter {
    const w = this.spare.pop() ?? new ProtoWriter();
    w.reset(this.head.maxLength);
    return w;
  }

  /** The oldest batch waiting, full or not; undefined when nothing waits. */
  private takeBatch(): Batch | undefined {
    if (this.sealed.length === 0) this.seal();
    const batch = this.sealed.shift();
    if (batch !== undefined) this.waiting -= batch.count;
    return batch;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; void this.drain(); }, delayMs);
    this.timer.unref();
  }

  /** Sends batches until the queue is short of a full batch (the rest waits for the delay). */
  private async drain(force = false): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      do {
        const batch = this.takeBatch();
        if (batch !== undefined) await this.send(batch);
      } while (this.sealed.length > 0 || (force && this.openCount > 0));
    } finally {
      this.busy = false;
    }
    if (this.waiting > 0 && !this.closed) this.schedule(this.opts.batchDelayMs);
  }

  /** Sends one batch (with retries); its writer is kept for a later batch once the body is no longer needed. */
  private async send({ writer, count }: Batch): Promise<void> {
    // The body is a view of the batch's own buffer, which is not reused before the last try is over. (A
    // collector that answers before reading the whole body has answered: what is still being sent is ignored.)
    const gap = this.head.maxLength;
    const body = writer.prepend(this.head.forSpans(writer.length - gap), gap);
    try {
      let backoff = this.opts.initialBackoffMs;
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.post(body);
        if (outcome.ok) { this.exported += count; return; }
        if (!outcome.retryable || attempt >= this.opts.maxAttempts || this.closed) {
          this.dropped += count;
          this.logFailure(`${outcome.reason}; ${count} spans dropped after ${attempt} ${attempt === 1 ? 'try' : 'tries'}`);
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(outcome.retryAfterMs ?? backoff, MAX_BACKOFF_MS)).unref());
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    } finally {
      if (this.spare.length < MAX_SPARE_WRITERS) this.spare.push(writer);
    }
  }

  private async post(body: Buffer): Promise<{ ok: boolean; retryable: boolean; reason: string; retryAfterMs?: number }> {
    try {
      // The agent's own request() (undici's parts, not its index: core/undici-parts.ts).
      const res = await this.agent.request({
        origin: this.origin, path: this.path, method: 'POST', body,
        headers: { 'content-type': 'application/x-protobuf' },
        headersTimeout: this.opts.exportTimeoutMs, bodyTimeout: this.opts.exportTimeoutMs,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, retryable: false, reason: '' };
      const after = Number(res.headers['retry-after']);
      return { ok: false, retryable: RETRYABLE.has(res.statusCode), reason: `collector ${this.opts.url} answered ${res.statusCode}`, ...(after > 0 ? { retryAfterMs: after * 1000 } : {}) };
    } catch (err) {
      return { ok: false, retryable: true, reason: `cannot export spans to ${this.opts.url}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }

  private logFailure(line: string): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.opts.log(`mesh tracing: ${line}`);
  }

  /** Stops taking spans and tries once to send what is queued, within `deadlineMs`. */
  async close(deadlineMs = 2_000): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const flushed = this.waiting > 0 && !this.busy ? this.drain(true) : Promise.resolve();
    this.closed = true;
    await Promise.race([flushed, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    await this.agent.destroy();
  }
}
