// Where spans go and how many are kept, from flags first, then the environment variables the OpenTelemetry
// specification defines (so a proxy configured like any OTel SDK just works):
//   --trace-endpoint <url>                 used as is; a URL with no path gets /v1/traces
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     used as is (the spec's signal-specific variable)
//   OTEL_EXPORTER_OTLP_ENDPOINT            a base URL: /v1/traces is appended to its path
//   OTEL_SERVICE_NAME                      the resource's service.name
//   OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT
// Tracing is on when there is an endpoint or --trace-sample was given; otherwise it costs nothing.
import { UsageError } from '../core/errors.js';

export interface TracingSettings {
  /** Where to export; undefined = keep spans for `mesh trace` only. */
  endpoint: string | undefined;
  /** The share of new traces (no sampled parent) that are recorded, 0..1. */
  sampleRatio: number;
  serviceName: string;
  maxQueueSize: number;
  maxBatchSize: number;
  batchDelayMs: number;
  exportTimeoutMs: number;
}

export interface TracingFlags {
  traceEndpoint?: string;
  traceSample?: number;
  traceBatchSize?: number;
  traceBatchDelay?: number;
  traceQueueSize?: number;
}

export const TRACING_DEFAULTS = { maxQueueSize: 2048, maxBatchSize: 512, batchDelayMs: 5_000, exportTimeoutMs: 10_000 } as const;

/** undefined = tracing off. `defaultService` names the resource when OTEL_SERVICE_NAME is not set. */
export function resolveTracing(flags: TracingFlags, env: NodeJS.ProcessEnv, defaultService: string): TracingSettings | undefined {
  const endpoint = flags.traceEndpoint !== undefined ? tracesUrl(flags.traceEndpoint, '--trace-endpoint', true)
    : nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined ? tracesUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT!, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', false)
      : nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) !== undefined ? baseUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT!) : undefined;
  if (endpoint === undefined && flags.traceSample === undefined) return undefined;
  const maxQueueSize = flags.traceQueueSize ?? envInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE') ?? TRACING_DEFAULTS.maxQueueSize;
  const maxBatchSize = Math.min(maxQueueSize, flags.traceBatchSize ?? envInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? TRACING_DEFAULTS.maxBatchSize);
  return {
    endpoint,
    sampleRatio: flags.traceSample ?? 1,
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? defaultService,
    maxQueueSize,
    maxBatchSize,
    batchDelayMs: flags.traceBatchDelay ?? envInt(env, 'OTEL_BSP_SCHEDULE_DELAY') ?? TRACING_DEFAULTS.batchDelayMs,
    exportTimeoutMs: envInt(env, 'OTEL_BSP_EXPORT_TIMEOUT') ?? TRACING_DEFAULTS.exportTimeoutMs,
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function parseHttpUrl(text: string, where: string): URL {
  let url: URL;
  try { url = new URL(text); } catch { throw new UsageError(`${where}: "${text}" is not a URL; use http://<collector>:4318/v1/traces`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${where}: "${text}" must be an http:// or https:// URL (OTLP/HTTP)`);
  return url;
}

function tracesUrl(text: string, where: string, addPathWhenBare: boolean): string {
  const url = parseHttpUrl(text, where);
  if (addPathWhenBare && (url.pathname === '' || url.pathname === '/')) url.pathname = '/v1/traces';
  return url.toString();
}

function baseUrl(text: string): string {
  const url = parseHttpUrl(text, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.toString();
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = nonEmpty(env[name]);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name}: "${v}" is not a positive whole number`);
  return n;
}
