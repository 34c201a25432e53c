// Spans leave the mesh: real `mesh proxy start` processes (outbound proxy with mTLS, inbound sidecars) export
// OTLP/HTTP protobuf to a real receiver that decodes every body with the official opentelemetry-proto
// definitions; one captured body is decoded again by protoc (Debian's protobuf-compiler) with the .proto files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startMesh, tempDir, runMesh, eventually, type Daemon } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { getJson, register, startBackend, startProxy, viaProxy, get } from '../helpers/proxy.js';
import { decodeExport, startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startH2Backend } from '../helpers/h2-backend.js';
import { ordersClient } from '../helpers/grpc-orders.js';
import { makePki, type TestPki } from '../unit/tls/pki.js';
import type { TlsFilePaths } from '../../src/tls/context.js';

type T = { after(fn: () => Promise<void> | void): void };
const SERVER_KIND = 2;
const CLIENT_KIND = 3;

let tmp: ReturnType<typeof tempDir>;
let pki: TestPki;
let certs: Record<string, TlsFilePaths>;
before(async () => {
  tmp = tempDir('mesh-tracing-');
  pki = await makePki(tmp.path, 'mesh');
  certs = { web: await pki.leaf('web'), b: await pki.leaf('b'), c: await pki.leaf('c'), orders: await pki.leaf('orders') };
});
after(() => tmp.cleanup());

/** An app that records the traceparent it got and, for /chain, calls `next` through the proxy with it. */
async function app(t: T, name: string, proxyPort: () => number, next?: string): Promise<{ address: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(String(req.headers.traceparent ?? ''));
    if (next === undefined) { res.end(name); return; }
    const out = request({ host: '127.0.0.1', port: proxyPort(), path: '/leaf', headers: { host: next, traceparent: String(req.headers.traceparent ?? '') } }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => res.end(`${name}>${body}`));
    });
    out.on('error', () => { res.statusCode = 502; res.end(); });
    out.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

async function sidecar(t: T, service: string, appAddr: string, endpoint: string): Promise<{ d: Daemon; port: number; admin: string }> {
  const c = certs[service]!;
  const d = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', appAddr, '--service', service, '--cert', c.cert, '--key', c.key, '--ca', pki.caPath,
    '--inbound-admin', '127.0.0.1:0', '--trace-endpoint', endpoint, '--trace-batch-delay', '20ms']);
  t.after(async () => { await d.stop('SIGKILL'); });
  const admin = (await d.waitFor(/inbound metrics on (http:\/\/[\d.:]+)\/metrics/))[1]!;
  const m = await d.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/);
  return { d, port: Number(m[1]), admin };
}

/** The outbound proxy with the `web` certificate (mTLS to endpoints with a mesh TLS port). */
async function mtlsProxy(t: T, registryUrl: string, extra: string[]): Promise<{ port: number; admin: string }> {
  const d = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', registryUrl,
    '--cert', certs.web!.cert, '--key', certs.web!.key, '--ca', pki.caPath, ...extra]);
  t.after(async () => { await d.stop('SIGKILL'); });
  const m = await d.waitFor(/outbound 127\.0\.0\.1:(\d+) \(admin (127\.0\.0\.1:\d+)/);
  return { port: Number(m[1]), admin: `http://${m[2]}` };
}

const TP = (trace: string, span: string, flags: string) => `00-${trace}-${span}-${flags}`;
const byKindService = (spans: ReceivedSpan[], kind: number, service: string) => spans.filter((s) => s.kind === kind && s.attributes['mesh.service'] === service);

test('a call chain client → proxy → sidecar → app → proxy → sidecar → app is one trace with a correct parent chain', { timeout: 60_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  const reg = await startRegistry(t);
  let proxyPort = 0;
  const appC = await app(t, 'c', () => proxyPort);
  const appB = await app(t, 'b', () => proxyPort, 'c');
  const sb = await sidecar(t, 'b', appB.address, rx.url);
  const sc = await sidecar(t, 'c', appC.address, rx.url);
  assert.equal((await runMesh(['register', 'b', '--id', 'b1', '--address', appB.address, '--tls-port', String(sb.port), '--registry', reg.url])).code, 0);
  assert.equal((await runMesh(['register', 'c', '--id', 'c1', '--address', appC.address, '--tls-port', String(sc.port), '--registry', reg.url])).code, 0);
  const proxy = await mtlsProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-batch-delay', '20ms']);
  proxyPort = proxy.port;

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const r = await viaProxy(proxy.port, 'b', '/chain?token=secret', { via: 'host', headers: { traceparent: TP(traceId, clientSpan, '01') } });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'b>c');

  const spans = (await rx.waitForSpans((s) => s.filter((x) => x.traceId === traceId).length >= 4)).filter((s) => s.traceId === traceId);
  assert.equal(spans.length, 4, JSON.stringify(spans.map((s) => [s.kind, s.attributes['mesh.service']])));
  const [p1] = byKindService(spans, CLIENT_KIND, 'b');
  const [s1] = byKindService(spans, SERVER_KIND, 'b');
  const [p2] = byKindService(spans, CLIENT_KIND, 'c');
  const [s2] = byKindService(spans, SERVER_KIND, 'c');
  assert.ok(p1 && s1 && p2 && s2);
  assert.equal(p1.parentSpanId, clientSpan, 'the outbound span continues the client\'s traceparent');
  assert.equal(s1.parentSpanId, p1.spanId, 'the sidecar span is a child of the proxy span');
  assert.equal(p2.parentSpanId, s1.spanId, 'the app\'s own call hangs under the sidecar span');
  assert.equal(s2.parentSpanId, p2.spanId);
  // The span ids sent on in traceparent are the spans exported: each app saw its sidecar's span id.
  assert.equal(appB.seen[0], TP(traceId, s1.spanId, '01'));
  assert.equal(appC.seen[0], TP(traceId, s2.spanId, '01'));
  // Semantic-convention and mesh attributes.
  assert.equal(p1.name, 'GET');
  assert.equal(p1.attributes['http.request.method'], 'GET');
  assert.equal(p1.attributes['url.path'], '/chain', 'the query string is left out');
  assert.equal(p1.attributes['http.response.status_code'], 200);
  assert.equal(p1.attributes['server.address'], 'b');
  assert.equal(p1.attributes['network.peer.address'], '127.0.0.1');
  assert.equal(p1.attributes['mesh.endpoint'], appB.address);
  assert.equal(p1.attributes['mesh.fate'], 'ok');
  assert.equal(p1.attributes['mesh.retries'], 0);
  assert.equal(s1.attributes['mesh.caller.spiffe_id'], 'spiffe://mesh.local/service/web');
  assert.equal(s2.serviceName, 'c');
  assert.equal(p1.serviceName, 'mesh-proxy');
  // Nested in time: each child starts after and ends before its parent — within 50 ms, as the spans come from
  // three processes (each anchors its clock at its own start) on a machine whose scheduler may pause any of them.
  const slackNs = 50_000_000n;
  for (const [parent, child] of [[p1, s1], [s1, p2], [p2, s2]] as const) {
    assert.ok(child.startTimeUnixNano + slackNs >= parent.startTimeUnixNano && child.endTimeUnixNano <= parent.endTimeUnixNano + slackNs,
      `${child.attributes['mesh.service']}/${child.kind} inside ${parent.attributes['mesh.service']}/${parent.kind}: start ${child.startTimeUnixNano - parent.startTimeUnixNano} ns after, end ${parent.endTimeUnixNano - child.endTimeUnixNano} ns before`);
  }
  assert.equal(p1.flags & 0x301, 0x301, 'sampled, parent remote');

  // The same body, decoded by an independent decoder: protoc with the .proto files.
  const body = rx.bodies.find((b) => b.includes(Buffer.from(traceId, 'hex')))!;
  const require = createRequire(import.meta.url);
  const protos = join(require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json'), '..', 'build', 'protos');
  const protoc = spawnSync('protoc', ['-I', protos, '--decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest', 'opentelemetry/proto/collector/trace/v1/trace_service.proto'], { input: body, encoding: 'latin1' });
  assert.equal(protoc.status, 0, protoc.stderr);
  const text = protoc.stdout;
  const traceIds = [...text.matchAll(/^\s+trace_id: "((?:[^"\\]|\\.)*)"/gm)].map((m) => unescapeC(m[1]!).toString('hex'));
  assert.ok(traceIds.includes(traceId), text.slice(0, 2000));
  assert.equal((text.match(/^\s+spans \{/gm) ?? []).length, decodeExport(body).length, 'protoc and protobufjs see the same spans');
  assert.match(text, /key: "http\.request\.method"\s+value \{\s+string_value: "GET"/);
  assert.match(text, /kind: SPAN_KIND_(CLIENT|SERVER)/);
  assert.match(text, /key: "service\.name"/);

  // With no collector at all: `mesh trace` asks the proxy and both sidecars and draws the whole chain.
  const proxies = ['--proxy', proxy.admin, '--proxy', sb.admin, '--proxy', sc.admin];
  const list = await runMesh(['trace', ...proxies]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${traceId}\\s+\\S+\\s+b\\s+GET /chain\\?token=secret\\s+200\\s+\\S+\\s+4\\s+0$`, 'm'));
  const drawn = await runMesh(['trace', traceId, ...proxies]);
  assert.equal(drawn.code, 0, drawn.stderr);
  const rows = drawn.stdout.split('\n').filter((l) => /^\s*(client|server) /.test(l)).map((l) => /^(\s*)(client|server) (\S+)/.exec(l)!.slice(1, 4).join(''));
  assert.deepEqual(rows, ['clientb', '  serverb', '    clientc', '      serverc'], drawn.stdout);
  assert.equal(drawn.stdout.split('\n').filter((l) => /^\s+try 1 /.test(l)).length, 4, 'each span shows its try');
  const json = JSON.parse((await runMesh(['trace', traceId, ...proxies, '--json'])).stdout) as { spans: Array<{ spanId: string; parentSpanId: string | null }> };
  assert.deepEqual(json.spans.map((x) => x.parentSpanId), [clientSpan, p1.spanId, s1.spanId, p2.spanId]);
  const missing = await runMesh(['trace', 'f'.repeat(32), '--proxy', proxy.admin]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /MESH_ERR_NOT_FOUND|is not among the recent spans/);
});

/** protoc prints bytes C-escaped: \NNN octal, \n \r \t \" \' \\, printable ASCII as is. */
function unescapeC(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') { out.push(c.charCodeAt(0)); continue; }
    const n = s[++i]!;
    if (/[0-7]/.test(n)) { let oct = n; while (oct.length < 3 && /[0-7]/.test(s[i + 1] ?? '')) oct += s[++i]; out.push(parseInt(oct, 8)); continue; }
    out.push(({ n: 10, r: 13, t: 9 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(out);
}

test('gRPC calls through the proxy and the sidecar (HTTP/2 over mTLS) get rpc.* attributes and their grpc status code; a failed call is an ERROR span', { timeout: 60_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  const reg = await startRegistry(t);
  const g = await startH2Backend(t, 'g1');
  const side = await sidecar(t, 'orders', g.grpc, rx.url);
  assert.equal((await runMesh(['register', 'orders', '--id', 'g1', '--address', g.grpc, '--tls-port', String(side.port), '--registry', reg.url])).code, 0);
  const proxy = await mtlsProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-batch-delay', '20ms']);
  const client = ordersClient(`127.0.0.1:${proxy.port}`, 'orders');
  t.after(() => client.close());
  assert.equal((await client.get('7')).length > 0, true);
  await assert.rejects(client.fail('8'), (err: { code?: number }) => err.code === 5);
  const spans = await rx.waitForSpans((s) => s.filter((x) => x.attributes['rpc.system'] === 'grpc').length >= 4);
  const get = spans.find((s) => s.attributes['rpc.method'] === 'Get' && s.kind === CLIENT_KIND)!;
  const fail = spans.find((s) => s.attributes['rpc.method'] === 'Fail' && s.kind === CLIENT_KIND)!;
  const served = spans.find((s) => s.attributes['rpc.method'] === 'Get' && s.kind === SERVER_KIND)!;
  assert.equal(served.parentSpanId, get.spanId, 'the sidecar\'s server span is the child of the proxy\'s client span');
  assert.equal(served.name, 'mesh.test.Orders/Get');
  assert.equal(served.attributes['network.protocol.version'], '2');
  assert.equal(served.attributes['rpc.grpc.status_code'], 0);
  assert.equal(served.attributes['mesh.caller.spiffe_id'], 'spiffe://mesh.local/service/web');
  assert.equal(spans.find((s) => s.attributes['rpc.method'] === 'Fail' && s.kind === SERVER_KIND)!.attributes['rpc.grpc.status_code'], 5);
  assert.equal(get.name, 'mesh.test.Orders/Get');
  assert.equal(get.kind, CLIENT_KIND);
  assert.equal(get.attributes['rpc.service'], 'mesh.test.Orders');
  assert.equal(get.attributes['rpc.grpc.status_code'], 0);
  assert.equal(get.attributes['network.protocol.version'], '2');
  assert.equal(get.attributes['http.request.method'], 'POST');
  assert.equal(get.status.code, 0, 'OK calls leave the status unset');
  assert.equal(fail.attributes['rpc.grpc.status_code'], 5);
  assert.equal(fail.status.code, 2, 'a non-OK gRPC status is an error');
});

test('the sampled flag is honoured both ways: a sampled parent is recorded at --trace-sample 0, an unsampled one is not at 1', { timeout: 60_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  const reg = await startRegistry(t);
  const a = await app(t, 'a', () => 0);
  await register(reg.url, 'a', { address: a.address, name: 'a1' });
  const never = await startProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-sample', '0', '--trace-batch-delay', '20ms']);
  const always = await startProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-sample', '1', '--trace-batch-delay', '20ms']);
  const id = (n: number) => `${String(n).padStart(4, '0')}aaaaaaaaaaaaaaaaaaaaaaaaaaaa`;
  const parent = 'bbbbbbbbbbbbbbbb';
  // At ratio 0: a sampled parent is recorded, an unsampled one and a new trace are not (and say so downstream).
  assert.equal((await viaProxy(never.port, 'a', '/', { via: 'host', headers: { traceparent: TP(id(1), parent, '01') } })).status, 200);
  assert.equal((await viaProxy(never.port, 'a', '/', { via: 'host', headers: { traceparent: TP(id(2), parent, '00') } })).status, 200);
  assert.equal((await viaProxy(never.port, 'a', '/', { via: 'host' })).status, 200);
  assert.match(a.seen[2]!, /-00$/, 'a new trace the proxy did not sample goes on unsampled');
  // At ratio 1: an unsampled parent is still not recorded; a new trace is.
  assert.equal((await viaProxy(always.port, 'a', '/', { via: 'host', headers: { traceparent: TP(id(3), parent, '00') } })).status, 200);
  assert.equal((await viaProxy(always.port, 'a', '/', { via: 'host' })).status, 200);
  assert.match(a.seen[4]!, /-01$/);
  const newTrace = a.seen[4]!.split('-')[1]!;
  const unsampledNew = a.seen[2]!.split('-')[1]!;
  // The last request's span arrives after every earlier one ended: then nothing else may have come.
  const spans = await rx.waitForSpans((s) => s.some((x) => x.traceId === newTrace));
  const traces = new Set(spans.map((s) => s.traceId));
  assert.ok(traces.has(id(1)), 'sampled parent recorded at ratio 0');
  assert.ok(!traces.has(id(2)), 'unsampled parent not recorded');
  assert.ok(!traces.has(unsampledNew), 'new trace not recorded at ratio 0');
  assert.ok(!traces.has(id(3)), 'unsampled parent not recorded at ratio 1');
  assert.equal(spans.length, 2);
});

test('a retry is an event on the span with its reason, and each try is kept with its endpoint', { timeout: 60_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  const reg = await startRegistry(t);
  const bad = await startBackend(t, 'bad');
  const good = await startBackend(t, 'good');
  await bad.mode(503);
  await register(reg.url, 'web', bad);
  await register(reg.url, 'web', good);
  const proxy = await startProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-batch-delay', '20ms']);
  // Which endpoint is picked first is the balancer's choice: send until a request met the 503 one first.
  const retried = await eventually(async () => {
    const r = await viaProxy(proxy.port, 'web', '/', { via: 'host' });
    assert.equal(r.status, 200);
    const spans = await rx.waitForSpans((s) => s.length > 0);
    const hit = spans.find((s) => s.attributes['mesh.retries'] === 1);
    assert.ok(hit);
    return hit;
  }, 20_000, 50);
  assert.equal(retried.events.length, 1);
  assert.equal(retried.events[0]!.name, 'mesh.retry');
  assert.deepEqual(retried.events[0]!.attributes, { 'mesh.retry.reason': 'status-503', 'mesh.endpoint': bad.address });
  assert.equal(retried.attributes['mesh.endpoint'], good.address);
  assert.equal(retried.attributes['mesh.fate'], 'okAfterRetry');
  assert.equal(retried.attributes['mesh.tries'], 2);
  const trace = await getJson<{ spans: Array<{ tries: Array<{ endpoint: string; status: number; failure: string }> }> }>(`${proxy.admin}/traces/${retried.traceId}`);
  assert.deepEqual(trace.spans[0]!.tries.map((x) => [x.endpoint, x.status, x.failure]), [[bad.address, 503, 'status-503'], [good.address, 200, '']]);
});

/** The proxy process's resident set, from /proc (Linux). */
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function load(port: number, service: string, total: number, concurrency: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const r = await viaProxy(port, service, '/', { via: 'host' });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }));
  return statuses;
}

const droppedOf = (text: string) => Number(/^mesh_trace_spans_dropped_total (\d+)/m.exec(text)?.[1] ?? -1);

test('a collector that hangs: requests unaffected, spans dropped and counted, RSS bounded', { timeout: 120_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  rx.mode = 'hang';
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'b1');
  await register(reg.url, 'web', b);
  const proxy = await startProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-queue-size', '256', '--trace-batch-size', '64', '--trace-batch-delay', '10ms']);
  const pid = proxy.daemon.child.pid!;
  const warm = await load(proxy.port, 'web', 2_000, 32);
  assert.deepEqual([...warm.keys()], [200]);
  const before = rssKiB(pid);
  const statuses = await load(proxy.port, 'web', 20_000, 32);
  assert.deepEqual([...statuses], [[200, 20_000]], 'every request answered 200 while the collector hangs');
  const grown = rssKiB(pid) - before;
  assert.ok(grown < 40 * 1024, `RSS grew ${grown} KiB over 20k requests`);
  const metrics = (await get(`${proxy.admin}/metrics`)).body;
  assert.ok(droppedOf(metrics) >= 20_000 - 256 - 64, `dropped: ${droppedOf(metrics)}`);
  assert.ok(rx.posts >= 1, 'the exporter did try the collector');
});

test('a collector that is down or refuses (503): requests unaffected, drops counted; spans flow once it is back', { timeout: 90_000 }, async (t) => {
  const rx = await startOtlpReceiver(t);
  rx.mode = 'refuse';
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'b1');
  await register(reg.url, 'web', b);
  const proxy = await startProxy(t, reg.url, ['--trace-endpoint', rx.url, '--trace-queue-size', '64', '--trace-batch-size', '32', '--trace-batch-delay', '10ms']);
  const statuses = await load(proxy.port, 'web', 2_000, 16);
  assert.deepEqual([...statuses], [[200, 2_000]]);
  await eventually(async () => droppedOf((await get(`${proxy.admin}/metrics`)).body) > 0, 15_000, 100);
  rx.mode = 'ok';
  // Retries back off from 1 s: keep sending until a batch lands.
  await eventually(async () => {
    await viaProxy(proxy.port, 'web', '/', { via: 'host' });
    return rx.spans.length > 0;
  }, 30_000, 200);
});
