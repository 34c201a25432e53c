// The attempt loop on its own (src/proxy/attempt/controller.ts), behind a scripted adapter: each scenario lists
// how its tries end, and states which endpoints were tried, what the service was told (tries started and
// ended, connect and TLS failures, retry budget asked and its answer, the request's end), what the client got
// and what the access log and the span say. The real adapters (HTTP/1.1, HTTP/2) are covered by the
// integration tests against real sockets; this is the loop's decision table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom } from '../../../src/core/clock.js';
import type { Instance } from '../../../src/core/types.js';
import { BUILTIN_DEFAULTS, DEFAULT_CONFIG, type ServiceSettings } from '../../../src/config/proxy-config.js';
import { ProxyMetrics } from '../../../src/metrics/recorder.js';
import type { AccessLog, AccessLogEntry } from '../../../src/metrics/access-log.js';
import { AttemptController } from '../../../src/proxy/attempt/controller.js';
import type { ForwardService } from '../../../src/proxy/attempt/forward-service.js';
import type { FailureKind } from '../../../src/proxy/attempt/retry.js';
import { ServiceRuntimes } from '../../../src/proxy/attempt/service-runtime.js';
import type { BalancerEndpoint } from '../../../src/proxy/balancer/policy.js';
import type { MeshErrorCause } from '../../../src/proxy/errors-response.js';
import type { RouteRule } from '../../../src/proxy/router.js';
import { UpstreamPools } from '../../../src/proxy/upstream/pools.js';
import { Span, SpanKind } from '../../../src/tracing/span.js';

/** How one try ends, as the adapter reports it. */
type Outcome =
  /** Response headers with this status; a relayed response then completes, breaks, or its client leaves. */
  | { answer: number; then?: 'breaks' | 'client-leaves' }
  | { fails: FailureKind; code?: string }
  | { clientLeaves: true };

interface Options {
  method?: string;
  hasBody?: boolean;
  /** Whether the adapter says the request body has been read. */
  bodyRead?: boolean;
  grpc?: boolean;
  route?: RouteRule;
  /** The mesh TLS port the tries dial (mTLS), or undefined for plaintext. */
  tlsPort?: number;
  span?: Span;
}

const nameOf = (ep: BalancerEndpoint): string => ep.key.slice(ep.key.indexOf('/') + 1);

/** A fake adapter: each try plays the next scripted outcome at once, as a protocol adapter would report it. */
class ScriptedAttempt extends AttemptController {
  readonly endpointsTried: string[] = [];
  readonly timeouts: number[] = [];
  readonly answered: Array<{ cause: MeshErrorCause; message: string }> = [];
  cancelled = 0;

  constructor(svc: ForwardService, settings: ServiceSettings, private readonly script: Outcome[], private readonly opts: Options, log: AccessLog) {
    super(svc, settings, opts.route, undefined, undefined, opts.method ?? 'GET', '/orders/1', opts.hasBody ?? false, opts.grpc ?? false,
      { log, authority: 'orders', requestId: 'req-1', traceId: 'trace-1' }, opts.span);
  }

  protected sendTry(ep: BalancerEndpoint, headersTimeoutMs: number): void {
    this.endpointsTried.push(nameOf(ep));
    this.timeouts.push(headersTimeoutMs);
    const o = this.script.shift();
    if (o === undefined) throw new Error(`no outcome scripted for try ${this.tries}`);
    if ('clientLeaves' in o) { this.clientGone(); return; }
    if ('fails' in o) {
      this.tryFailed(o.fails, o.code === undefined ? undefined : Object.assign(new Error(o.code), { code: o.code }));
      return;
    }
    if (!this.responseStarted(o.answer)) { this.retryElsewhere(); return; }
    this.bytesIn += 3;
    this.bytesOut += 10;
    if (o.then === 'breaks') this.responseFailed();
    else if (o.then === 'client-leaves') this.clientGone();
    else this.completed();
  }

  protected cancelTry(): void { this.cancelled++; }
  protected sendError(cause: MeshErrorCause, message: string): number { this.answered.push({ cause, message }); return 42; }
  protected bodyRead(): boolean { return this.opts.bodyRead ?? false; }
  protected tlsPortOfTry(): number | undefined { return this.opts.tlsPort; }
  protected failureDetail(err: Error | undefined): string { return (err as NodeJS.ErrnoException | undefined)?.code ?? 'closed'; }
  protected get resetWhat(): string { return 'stream'; }
}

/** Wraps a service so every call the loop makes is written down, in order. */
function recorded(svc: ForwardService, events: string[]): ForwardService {
  return {
    name: svc.name,
    pick: (subset, hashKey, exclude) => svc.pick(subset, hashKey, exclude),
    tryStarted: (ep) => { events.push(`start ${nameOf(ep)}`); svc.tryStarted(ep); },
    tryEnded: (ep, ok, latency, status) => { events.push(`end ${nameOf(ep)} ${ok ? 'ok' : 'failed'} ${status}`); svc.tryEnded(ep, ok, latency, status); },
    connectFailed: (ep) => { events.push(`unreachable ${nameOf(ep)}`); svc.connectFailed?.(ep); },
    tlsHandshakeFailed: (ep) => { events.push(`tls-failure ${nameOf(ep)}`); svc.tlsHandshakeFailed?.(ep); },
    bodyBytes: (ep, to, from) => { events.push(`bytes ${nameOf(ep)} ${to}/${from}`); svc.bodyBytes?.(ep, to, from); },
    takeRetry: (kind) => { const ok = svc.takeRetry(kind); events.push(`budget ${kind} ${ok ? 'granted' : 'refused'}`); return ok; },
    requestEnded: (status, latency, retried, cause, budgetRefused) => {
      events.push(`request ${status} ${cause ?? '-'}${retried ? ' retried' : ''}${budgetRefused === true ? ' budget-refused' : ''}`);
      svc.requestEnded(status, latency, retried, cause, budgetRefused);
    },
  };
}

/** A pool of three endpoints that picks the first untried one, and a retry budget of `budget` retries. */
function fakeService(budget: number, names = ['a', 'b', 'c']): ForwardService {
  const eps = names.map((n, i): BalancerEndpoint => ({ key: `orders/${n}`, address: `127.0.0.1:${9001 + i}`, weight: 1, inFlight: 0, ewmaMs: 0, ewmaStamp: 0 }));
  let left = budget;
  return {
    name: 'orders',
    pick: (_s, _h, exclude) => eps.find((e) => exclude?.has(e.key) !== true) ?? eps[0] ?? 'no-healthy-endpoint',
    tryStarted: () => undefined,
    tryEnded: () => undefined,
    takeRetry: () => left-- > 0,
    requestEnded: () => undefined,
  };
}

function run(svc: ForwardService, script: Outcome[], opts: Options = {}, settings: Partial<ServiceSettings> = {}) {
  const events: string[] = [];
  const log: AccessLogEntry[] = [];
  const accessLog = { record: (e: AccessLogEntry) => { log.push(e); } } as unknown as AccessLog;
  const attempt = new ScriptedAttempt(recorded(svc, events), { ...BUILTIN_DEFAULTS, ...settings }, [...script], opts, accessLog);
  attempt.start();
  assert.equal(log.length, 1, 'one access-log line per request');
  return { tried: attempt.endpointsTried, timeouts: attempt.timeouts, answered: attempt.answered, cancelled: attempt.cancelled, events, line: log[0]! };
}

const refused = { fails: 'connect', code: 'ECONNREFUSED' } as const;

test('a 200 on the first try: one try, nothing retried, the request and its bytes recorded once', () => {
  const r = run(fakeService(5), [{ answer: 200 }]);
  assert.deepEqual(r.tried, ['a']);
  assert.deepEqual(r.events, ['start a', 'end a ok 200', 'request 200 -', 'bytes a 3/10']);
  assert.deepEqual(r.answered, []);
  assert.deepEqual([r.line.status, r.line.error, r.line.upstream, r.line.bytesIn, r.line.bytesOut, r.line.method, r.line.path],
    [200, null, '127.0.0.1:9001', 3, 10, 'GET', '/orders/1']);
});

test('a refused connect marks the endpoint unreachable and is retried on another one', () => {
  const r = run(fakeService(5), [refused, { answer: 200 }]);
  assert.deepEqual(r.tried, ['a', 'b']);
  assert.deepEqual(r.events, [
    'start a', 'end a failed 0', 'unreachable a', 'budget connect granted',
    'start b', 'end b ok 200', 'request 200 - retried', 'bytes b 3/10',
  ]);
  assert.equal(r.line.upstream, '127.0.0.1:9002');
});

test('a 503 is dropped and retried elsewhere for an idempotent method, relayed for a POST unless the route is retryable', () => {
  const get = run(fakeService(5), [{ answer: 503 }, { answer: 200 }]);
  assert.deepEqual(get.tried, ['a', 'b']);
  assert.deepEqual(get.events.slice(0, 3), ['start a', 'budget status-503 granted', 'end a failed 503']);
  assert.equal(get.line.status, 200);

  const post = run(fakeService(5), [{ answer: 503 }], { method: 'POST' });
  assert.deepEqual(post.tried, ['a']);
  assert.deepEqual(post.events, ['start a', 'end a failed 503', 'request 503 -', 'bytes a 3/10'], 'relayed as is; the budget is not even asked');

  const retryable = run(fakeService(5), [{ answer: 503 }, { answer: 201 }], { method: 'POST', route: { retryable: true } as RouteRule });
  assert.deepEqual(retryable.tried, ['a', 'b']);
});

test('a retry the budget refuses ends the request on its failure, recorded as budget-refused', () => {
  const r = run(fakeService(0), [{ fails: 'reset', code: 'ECONNRESET' }]);
  assert.deepEqual(r.tried, ['a']);
  assert.deepEqual(r.events, ['start a', 'end a failed 0', 'budget reset refused', 'request 502 upstream-reset budget-refused']);
  assert.deepEqual(r.answered, [{ cause: 'upstream-reset', message: 'service "orders": stream reset by 127.0.0.1:9001 (ECONNRESET) after 1 try' }]);
  assert.deepEqual([r.line.status, r.line.error, r.line.bytesOut], [502, 'upstream-reset', 42], 'the error body is logged, not counted against the endpoint');
});

test('retries stop at the configured count: three refused connects with retries 2 answer 502 after 3 tries', () => {
  const r = run(fakeService(5), [refused, refused, refused], {}, { retries: 2 });
  assert.deepEqual(r.tried, ['a', 'b', 'c']);
  assert.equal(r.events.filter((e) => e.startsWith('budget')).length, 2);
  assert.deepEqual(r.answered, [{ cause: 'upstream-connect', message: 'service "orders": cannot connect to 127.0.0.1:9003 (ECONNREFUSED) after 3 tries' }]);
  assert.equal(r.events.at(-1), 'request 502 upstream-connect retried');
});

test('timeouts are never retried and the budget is not asked', () => {
  const r = run(fakeService(5), [{ fails: 'timeout' }], {}, { timeoutMs: 3000, perTryTimeoutMs: 1000 });
  assert.deepEqual(r.events, ['start a', 'end a failed 0', 'request 504 upstream-timeout']);
  assert.deepEqual(r.answered, [{ cause: 'upstream-timeout', message: 'service "orders" did not answer within 1000 ms (1 try)' }]);
});

test('each try gets the per-try timeout, cut to what is left of the overall deadline; a passed deadline stops retries', () => {
  assert.deepEqual(run(fakeService(5), [refused, { answer: 200 }], {}, { timeoutMs: 60_000, perTryTimeoutMs: 250 }).timeouts, [250, 250]);
  const late = run(fakeService(5), [refused], {}, { timeoutMs: 0, perTryTimeoutMs: 250 });
  assert.deepEqual(late.timeouts, [1], 'never 0 or negative: the try still gets 1 ms');
  assert.deepEqual(late.tried, ['a']);
  assert.ok(!late.events.some((e) => e.startsWith('budget')), 'past the deadline the budget is not asked');
});

test('a request body already read is not replayed, not even after a refused connect', () => {
  const r = run(fakeService(5), [refused], { method: 'PUT', hasBody: true, bodyRead: true });
  assert.deepEqual(r.tried, ['a']);
  assert.deepEqual(r.events, ['start a', 'end a failed 0', 'unreachable a', 'request 502 upstream-connect']);
  const unread = run(fakeService(5), [refused, { answer: 200 }], { method: 'PUT', hasBody: true, bodyRead: false });
  assert.deepEqual(unread.tried, ['a', 'b']);
});

test('gRPC: a call is retried only when it never reached a server; its 503 and resets are relayed', () => {
  const connect = run(fakeService(5), [{ fails: 'connect' }, { answer: 200 }], { method: 'POST', grpc: true });
  assert.deepEqual(connect.tried, ['a', 'b']);
  assert.ok(!connect.events.includes('unreachable a'), 'a refused stream (no connect error) does not make the endpoint unreachable');
  assert.deepEqual(run(fakeService(5), [{ answer: 503 }], { method: 'POST', grpc: true }).tried, ['a']);
  const reset = run(fakeService(5), [{ fails: 'reset' }], { method: 'POST', grpc: true });
  assert.deepEqual(reset.answered, [{ cause: 'upstream-reset', message: 'service "orders": stream reset by 127.0.0.1:9001 (closed) after 1 try' }]);
});

test('a refused server certificate counts as a TLS failure (not unreachable), is retried like a connect, then answers upstream-identity', () => {
  const tls = { fails: 'other', code: 'CERT_HAS_EXPIRED' } as const;
  const r = run(fakeService(5), [tls, tls], { tlsPort: 9443 }, { retries: 1 });
  assert.deepEqual(r.tried, ['a', 'b']);
  assert.deepEqual(r.events, [
    'start a', 'end a failed 0', 'tls-failure a', 'budget connect granted',
    'start b', 'end b failed 0', 'tls-failure b', 'request 502 upstream-identity retried',
  ]);
  assert.equal(r.answered[0]!.cause, 'upstream-identity');
  assert.match(r.answered[0]!.message, /refused the certificate of 127\.0\.0\.1:9443, the mesh TLS port of endpoint 127\.0\.0\.1:9002 \(CERT_HAS_EXPIRED: CERT_HAS_EXPIRED\) after 2 tries/);
  // The same error on a plaintext try is no TLS failure: an 'other' failure, answered as a reset.
  assert.deepEqual(run(fakeService(5), [tls], {}, { retries: 1 }).answered[0]!.cause, 'upstream-reset');
});

test('no endpoint to pick: 503 no-healthy-endpoint, no try, no upstream in the log', () => {
  const r = run(fakeService(5, []), []);
  assert.deepEqual(r.tried, []);
  assert.deepEqual(r.events, ['request 503 no-healthy-endpoint']);
  assert.deepEqual([r.line.status, r.line.upstream], [503, null]);
});

test('the client leaving cancels the try, does not blame the endpoint, and records a 499', () => {
  const r = run(fakeService(5), [refused, { clientLeaves: true }]);
  assert.deepEqual(r.tried, ['a', 'b']);
  assert.equal(r.cancelled, 1);
  assert.deepEqual(r.events.slice(-2), ['end b ok 499', 'request 499 - retried']);
  assert.deepEqual(r.answered, []);
  assert.equal(r.line.status, 499, 'the log says 499, as the metrics do');
  // Once the response is out the try has ended: leaving mid-body ends the request only.
  const midBody = run(fakeService(5), [{ answer: 200, then: 'client-leaves' }]);
  assert.deepEqual(midBody.events, ['start a', 'end a ok 200', 'request 499 -', 'bytes a 3/10']);
});

test('a response that breaks mid-body is not retried: the status stays, the cause is upstream-reset', () => {
  const r = run(fakeService(5), [{ answer: 200, then: 'breaks' }]);
  assert.deepEqual(r.events, ['start a', 'end a ok 200', 'request 200 upstream-reset', 'bytes a 3/10']);
  assert.deepEqual([r.line.status, r.line.error], [200, 'upstream-reset']);
});

test('the span gets a try per endpoint and a retry event per retry with its reason', () => {
  const ended: Span[] = [];
  const span = new Span({ spanEnded: (s) => { ended.push(s); } }, { traceId: 't', spanId: 's' }, SpanKind.client, 'orders', 'GET', '/orders/1', '1.1', false, 'req-1');
  run(fakeService(5), [refused, { answer: 503 }, { answer: 200 }], { span });
  assert.equal(ended.length, 1);
  assert.deepEqual(span.events?.map((e) => [e.reason, e.endpoint]), [['connect', '127.0.0.1:9001'], ['status-503', '127.0.0.1:9002']]);
  assert.deepEqual([span.status, span.cause, span.endpoint], [200, undefined, '127.0.0.1:9003']);
});

// --- with the real service runtime: pool picks, priority tiers, the retry budget ---

function inst(id: string, port: number, priority: number): Instance {
  return { service: 'orders', id, address: `127.0.0.1:${port}`, weight: 100, priority, tags: {}, health: 'passing', registeredAt: 0, createIndex: 1, modifyIndex: 1 };
}

function realRuntime() {
  const clock = new ManualClock();
  const metrics = new ProxyMetrics({ clock });
  const runtimes = new ServiceRuntimes({ clock, random: seededRandom(7), metrics, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG, log: () => undefined });
  runtimes.apply({ type: 'reset', index: 1, instances: [inst('p1', 9001, 0), inst('p2', 9002, 0), inst('backup', 9003, 1)] });
  return { rt: runtimes.get('orders')!, close: () => metrics.close() };
}

test('real runtime: once both primaries answered 503, the last retry falls back to the backup tier', () => {
  const { rt, close } = realRuntime();
  const r = run(rt, [{ answer: 503 }, { answer: 503 }, { answer: 200 }], {}, { retries: 2 });
  assert.deepEqual([...r.tried.slice(0, 2)].sort(), ['p1', 'p2']);
  assert.equal(r.tried[2], 'backup');
  assert.equal(r.line.upstream, '127.0.0.1:9003');
  assert.deepEqual(rt.limiter.inFlight, 0);
  close();
});

test('real runtime: with the retry budget spent a 503 is relayed (budget-refused), but a refused stream is still retried for free', () => {
  const { rt, close } = realRuntime();
  while (rt.takeRetry('reset')) { /* spend the budget */ }
  const refusals = rt.budgetRefusals;
  const s503 = run(rt, [{ answer: 503 }]);
  const [ep] = s503.tried;
  assert.equal(s503.tried.length, 1);
  assert.deepEqual(s503.events, [`start ${ep}`, 'budget status-503 refused', `end ${ep} failed 503`, 'request 503 - budget-refused', `bytes ${ep} 3/10`]);
  assert.equal(rt.budgetRefusals, refusals + 1);
  const free = run(rt, [{ fails: 'connect' }, { answer: 200 }]);
  assert.equal(free.tried.length, 2);
  assert.ok(free.events.includes('budget connect granted'));
  assert.equal(rt.budgetRefusals, refusals + 1, 'the connect retry was not charged');
  close();
});
