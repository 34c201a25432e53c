// The tracer a proxy holds when tracing is on (and does not hold when it is off: every hook is then one
// `undefined` check). It decides sampling for new traces, makes spans, and hands ended ones to the ring
// (for `mesh trace`) and to the exporter (when there is an endpoint).
import { SpanExporter } from './exporter.js';
import { SpanRing } from './ring.js';
import { Span, type SpanIds, type SpanKind, type SpanSink } from './span.js';
import type { TracingSettings } from './settings.js';

/** What trace.ts asks when it starts a trace: should the new trace be recorded? */
export interface Sampler { sampleNew(traceId: string): boolean }

export class Tracer implements SpanSink, Sampler {
  readonly ring = new SpanRing();
  readonly exporter: SpanExporter | undefined;
  /** The ratio as a threshold on a trace id's 32 bits at hex 16..24 (random in every W3C trace id we make). */
  private readonly threshold: number;

  constructor(readonly settings: TracingSettings, log: (line: string) => void, version = '0.1.0') {
    this.threshold = Math.floor(settings.sampleRatio * 0x100000000);
    this.exporter = settings.endpoint === undefined ? undefined : new SpanExporter({
      url: settings.endpoint,
      resource: {
        attributes: [['service.name', settings.serviceName], ['telemetry.sdk.name', 'mesh'], ['telemetry.sdk.language', 'nodejs'], ['telemetry.sdk.version', version]],
        scopeName: 'mesh', scopeVersion: version,
      },
      maxQueueSize: settings.maxQueueSize,
      maxBatchSize: settings.maxBatchSize,
      batchDelayMs: settings.batchDelayMs,
      exportTimeoutMs: settings.exportTimeoutMs,
      maxAttempts: 5,
      initialBackoffMs: 1_000,
      log,
    });
  }

  /** Deterministic in the trace id (like OTel's TraceIdRatioBased), so every proxy decides a new trace alike. */
  sampleNew(traceId: string): boolean {
    if (this.threshold >= 0x100000000) return true;
    if (this.threshold <= 0) return false;
    return parseInt(traceId.slice(16, 24), 16) < this.threshold;
  }

  startSpan(kind: SpanKind, ids: SpanIds, service: string, method: string, path: string, protocol: string, grpc: boolean, requestId: string | undefined): Span {
    return new Span(this, ids, kind, service, method, path, protocol, grpc, requestId);
  }

  spanEnded(span: Span): void {
    this.ring.add(span);
    this.exporter?.offer(span);
  }

  get dropped(): number { return this.exporter?.dropped ?? 0; }
  get exported(): number { return this.exporter?.exported ?? 0; }

  async close(): Promise<void> { await this.exporter?.close(); }
}
