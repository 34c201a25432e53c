// A real OTLP/HTTP trace receiver for tests: POST /v1/traces bodies are kept as received and decoded with the
// official opentelemetry-proto definitions, as compiled into @opentelemetry/otlp-transformer (protobufjs).
// `mode` makes it a collector that refuses (503) or hangs, for the tests of a sick collector.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

type After = { after(fn: () => Promise<void> | void): void };

interface ProtoType { decode(b: Uint8Array): unknown; toObject(m: unknown, o: Record<string, unknown>): Record<string, unknown> }
const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as { opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } } };
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, string | number | boolean>;
  events: Array<{ name: string; attributes: Record<string, string | number | boolean> }>;
  status: { code: number; message: string };
  flags: number;
  /** The resource's service.name. */
  serviceName: string;
}

export interface OtlpReceiver {
  url: string;
  bodies: Buffer[];
  spans: ReceivedSpan[];
  mode: 'ok' | 'refuse' | 'hang';
  /** Requests received, answered or not. */
  posts: number;
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
}

type Obj = Record<string, unknown>;
const hex = (b: unknown) => (b === undefined || b === null ? '' : Buffer.from(b as Uint8Array).toString('hex'));

function attrs(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of (list ?? []) as Obj[]) {
    const v = kv.value as Obj;
    out[kv.key as string] = (v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue) as string | number | boolean;
  }
  return out;
}

/** Decodes an ExportTraceServiceRequest body into flat spans. */
export function decodeExport(body: Buffer): ReceivedSpan[] {
  const msg = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, bytes: Buffer, defaults: false });
  const out: ReceivedSpan[] = [];
  for (const rs of (msg.resourceSpans ?? []) as Obj[]) {
    const serviceName = String(attrs((rs.resource as Obj | undefined)?.attributes)['service.name'] ?? '');
    for (const ss of (rs.scopeSpans ?? []) as Obj[]) {
      for (const s of (ss.spans ?? []) as Obj[]) {
        out.push({
          traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name as string, kind: Number(s.kind ?? 0),
          startTimeUnixNano: BigInt(s.startTimeUnixNano as string), endTimeUnixNano: BigInt(s.endTimeUnixNano as string),
          attributes: attrs(s.attributes),
          events: ((s.events ?? []) as Obj[]).map((e) => ({ name: e.name as string, attributes: attrs(e.attributes) })),
          status: { code: Number((s.status as Obj | undefined)?.code ?? 0), message: String((s.status as Obj | undefined)?.message ?? '') },
          flags: Number(s.flags ?? 0),
          serviceName,
        });
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(t: After): Promise<OtlpReceiver> {
  const waiters = new Set<() => void>();
  const hung = new Set<ServerResponse>();
  const r: OtlpReceiver = {
    url: '', bodies: [], spans: [], mode: 'ok', posts: 0,
    waitForSpans(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => { if (predicate(r.spans)) { waiters.delete(check); clearTimeout(timer); resolve(r.spans); } };
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`spans not received in ${timeoutMs} ms; have ${r.spans.length}: ${JSON.stringify(r.spans.map((s) => [s.name, s.attributes['mesh.service']]))}`)); }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.posts++;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(400); res.end(); return;
      }
      if (r.mode === 'hang') { hung.add(res); return; }
      if (r.mode === 'refuse') { res.writeHead(503); res.end(); return; }
      const body = Buffer.concat(chunks);
      r.bodies.push(body);
      r.spans.push(...decodeExport(body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
  t.after(async () => {
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });
  return r;
}
