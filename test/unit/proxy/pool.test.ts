import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom } from '../../../src/core/clock.js';
import type { HealthState, Instance } from '../../../src/core/types.js';
import { EndpointTable, PoolEndpoint, PICK_FAILURE_CODES, type PickFailure } from '../../../src/proxy/pool/endpoints.js';
import type { EjectionEvent } from '../../../src/proxy/pool/outlier.js';
import { ReachabilityProber } from '../../../src/proxy/pool/reachability.js';

let index = 0;
function inst(id: string, o: { service?: string; health?: HealthState; priority?: number; weight?: number; tags?: Record<string, string>; port?: number } = {}): Instance {
  return {
    service: o.service ?? 'orders', id, address: `127.0.0.1:${o.port ?? 8000}`, weight: o.weight ?? 100, priority: o.priority ?? 0,
    tags: o.tags ?? {}, health: o.health ?? 'passing', registeredAt: 0, createIndex: 1, modifyIndex: 1,
  };
}
function table(clock = new ManualClock(), events: EjectionEvent[] = []) {
  return new EndpointTable({ clock, random: seededRandom(1), onEjection: (e) => events.push(e) });
}
function id(r: PoolEndpoint | PickFailure): string {
  return typeof r === 'string' ? r : r.id;
}
function pickIds(t: EndpointTable, n: number, subset?: Record<string, string>, service = 'orders'): string[] {
  return Array.from({ length: n }, () => id(t.pick(service, {}, undefined, subset)));
}
function eligibleIds(t: EndpointTable, service = 'orders'): string[] {
  return t.service(service)!.eligible().map((e) => e.id);
}

test('applies reset, upsert and remove; unknown and emptied services are "no such service"', () => {
  const t = table();
  assert.equal(t.pick('orders', {}), 'no-such-service');
  t.apply({ type: 'reset', index: 3, instances: [inst('a'), inst('b'), inst('x', { service: 'users' })] });
  assert.equal(t.index, 3);
  assert.deepEqual(pickIds(t, 4), ['a', 'b', 'a', 'b']);
  t.apply({ type: 'upsert', index: 4, instance: inst('c') });
  assert.deepEqual(eligibleIds(t), ['a', 'b', 'c']);
  t.apply({ type: 'remove', index: 5, service: 'orders', id: 'a', reason: 'deregistered' });
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  // A reset drops what it does not list, in every service.
  t.apply({ type: 'reset', index: 9, instances: [inst('c')] });
  assert.deepEqual(eligibleIds(t), ['c']);
  assert.equal(t.pick('users', {}), 'no-such-service');
  assert.deepEqual(t.serviceNames(), ['orders']);
  assert.equal(PICK_FAILURE_CODES['no-such-service'], 'MESH_ERR_NO_SUCH_SERVICE');
});

test('endpoint objects are stable: same key, same object, counters kept; removed ones finish but take no picks', () => {
  const t = table();
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('b')] });
  const pool = t.service('orders')!;
  const a = pool.endpoint('a')!;
  pool.begin(a);
  t.apply({ type: 'upsert', index: 2, instance: inst('a', { weight: 300, health: 'warning' }) });
  t.apply({ type: 'reset', index: 3, instances: [inst('a', { weight: 300 }), inst('b')] });
  assert.equal(pool.endpoint('a'), a);
  assert.equal(a.inFlight, 1);
  assert.equal(a.weight, 300);
  assert.equal(t.service('orders'), pool, 'the pool object is stable too');
  t.apply({ type: 'remove', index: 4, service: 'orders', id: 'a', reason: 'deregistered' });
  assert.ok(a.removed);
  assert.deepEqual(pickIds(t, 3), ['b', 'b', 'b']);
  pool.finish(a, 5, 'success'); // the in-flight request to the removed endpoint completes
  assert.equal(a.inFlight, 0);
  // Re-registered later: a fresh object (its old in-flight bookkeeping stays with the old one).
  t.apply({ type: 'upsert', index: 5, instance: inst('a') });
  assert.notEqual(pool.endpoint('a'), a);
});

test('health filtering: passing always, warning by default and configurable, critical never', () => {
  const t = table();
  t.apply({ type: 'reset', index: 1, instances: [inst('p'), inst('w', { health: 'warning' }), inst('c', { health: 'critical' })] });
  assert.deepEqual(eligibleIds(t), ['p', 'w']);
  t.configure(() => ({ includeWarning: false }));
  assert.deepEqual(eligibleIds(t), ['p']);
  const snap = t.snapshot()[0]!;
  assert.deepEqual(snap.endpoints.map((e) => [e.id, e.eligible, e.excludedBecause]), [['c', false, 'critical'], ['p', true, undefined], ['w', false, 'warning']]);
  t.apply({ type: 'upsert', index: 2, instance: inst('p', { health: 'critical' }) });
  assert.equal(t.pick('orders', {}), 'no-healthy-endpoint');
  t.apply({ type: 'upsert', index: 3, instance: inst('c') });
  assert.deepEqual(pickIds(t, 2), ['c', 'c']);
});

test('priority tiers: traffic spills to the next tier by the capacity a tier lost (Envoy\'s rule, factor 1.4)', () => {
  const t = table();
  t.apply({ type: 'reset', index: 1, instances: [inst('p1'), inst('p2'), inst('b1', { priority: 1 }), inst('b2', { priority: 2 })] });
  const pool = t.service('orders')!;
  const NONE = 'no-healthy-endpoint';
  // With one of two primaries gone, tier 0 keeps 1.4 × 50% = 70% and tier 1 takes 30%; the tiers take turns by
  // smooth weighted round robin over 70:30, so every 10 picks hold exactly 7 and 3.
  const spill = ['p2', 'b1', 'p2', 'p2', 'p2', 'b1', 'p2', 'p2', 'b1', 'p2'];
  const steps: Array<{ change?: Instance; tier: number | null; loads: number[]; picks: string[] }> = [
    { tier: 0, loads: [100, 0, 0], picks: ['p1', 'p2', 'p1', 'p2'] },
    { change: inst('p1', { health: 'critical' }), tier: 0, loads: [70, 30, 0], picks: spill },
    { change: inst('p2', { health: 'critical' }), tier: 1, loads: [0, 100, 0], picks: ['b1', 'b1', 'b1', 'b1'] },
    { change: inst('b1', { health: 'critical', priority: 1 }), tier: 2, loads: [0, 0, 100], picks: ['b2', 'b2', 'b2', 'b2'] },
    { change: inst('b2', { health: 'critical', priority: 2 }), tier: null, loads: [0, 0, 0], picks: [NONE, NONE, NONE, NONE] },
    { change: inst('b2', { priority: 2 }), tier: 2, loads: [0, 0, 100], picks: ['b2', 'b2', 'b2', 'b2'] },
    // Tier 1 has nothing eligible, so what tier 0 cannot take goes on to tier 2.
    { change: inst('p2'), tier: 0, loads: [70, 0, 30], picks: ['p2', 'b2', 'p2', 'p2', 'p2', 'b2', 'p2', 'p2', 'b2', 'p2'] },
    { change: inst('p1'), tier: 0, loads: [100, 0, 0], picks: ['p1', 'p2', 'p1', 'p2'] },
  ];
  let i = 10;
  for (const step of steps) {
    if (step.change) t.apply({ type: 'upsert', index: i++, instance: step.change });
    assert.equal(pool.activeTier(), step.tier, JSON.stringify(step.change?.id));
    assert.deepEqual(pool.snapshot().tiers!.map((x) => x.load), step.loads, JSON.stringify(step.change?.id));
    assert.deepEqual(pickIds(t, step.picks.length), step.picks, JSON.stringify(step.change?.id));
  }
  const snap = pool.snapshot();
  assert.equal(snap.activeTier, 0);
  // Sorted by key: b1, b2, p1, p2. b1 is still critical; b2 is healthy but in a tier not taking traffic.
  assert.deepEqual(snap.endpoints.map((e) => [e.id, e.eligible, e.excludedBecause]),
    [['b1', false, 'critical'], ['b2', false, 'inactive-tier'], ['p1', true, undefined], ['p2', true, undefined]]);
});

test('subsets by tag: each subset has its own eligible set, tiers and policy state; no match is "no healthy endpoint"', () => {
  const t = table();
  t.apply({ type: 'reset', index: 1, instances: [
    inst('v1a', { tags: { version: 'v1' } }), inst('v1b', { tags: { version: 'v1', zone: 'z' } }),
    inst('v2a', { tags: { version: 'v2' } }), inst('v2b', { tags: { version: 'v2' }, priority: 1 }),
  ] });
  const v1 = { version: 'v1' };
  const v2 = { version: 'v2' };
  assert.deepEqual(pickIds(t, 4, v1), ['v1a', 'v1b', 'v1a', 'v1b']);
  assert.deepEqual(pickIds(t, 2, v2), ['v2a', 'v2a']);
  assert.deepEqual(pickIds(t, 2, { version: 'v1', zone: 'z' }), ['v1b', 'v1b']);
  assert.deepEqual(pickIds(t, 1, { version: 'v3' }), ['no-healthy-endpoint']);
  // The v2 subset fails over to its own backup tier while the service's tier 0 still has v1 endpoints.
  t.apply({ type: 'upsert', index: 2, instance: inst('v2a', { tags: { version: 'v2' }, health: 'critical' }) });
  assert.deepEqual(pickIds(t, 2, v2), ['v2b', 'v2b']);
  assert.equal(t.service('orders')!.activeTier(v2), 1);
  assert.equal(t.service('orders')!.activeTier(), 0);
  // A tag change moves an endpoint between subsets. v2's tier 0 now has one of its two endpoints eligible:
  // it keeps 70% and its backup takes 30% (smooth weighted turns: tier 0, tier 1, tier 0, tier 0).
  t.apply({ type: 'upsert', index: 3, instance: inst('v1a', { tags: { version: 'v2' } }) });
  assert.deepEqual(pickIds(t, 2, v1), ['v1b', 'v1b']);
  assert.deepEqual(pickIds(t, 4, v2), ['v1a', 'v2b', 'v1a', 'v1a']);
});

test('policy state is rebuilt only when the eligible set changes, not per request or per unrelated update', () => {
  const t = new EndpointTable({ clock: new ManualClock(), random: seededRandom(1) }, () => ({ policy: 'weighted' }));
  t.apply({ type: 'reset', index: 1, instances: [inst('a', { weight: 5 }), inst('b', { weight: 1 }), inst('c', { weight: 1 })] });
  const pool = t.service('orders')!;
  assert.deepEqual(pickIds(t, 3), ['a', 'a', 'b']);
  const before = pool.eligible();
  // An update that changes nothing the balancer sees (same record, newer index) keeps the sequence going.
  t.apply({ type: 'upsert', index: 2, instance: inst('a', { weight: 5 }) });
  assert.deepEqual(pickIds(t, 4), ['a', 'c', 'a', 'a']);
  assert.equal(pool.eligible(), before, 'same array: update() was not called');
  // A weight change does reach the policy.
  t.apply({ type: 'upsert', index: 3, instance: inst('a', { weight: 1 }) });
  assert.deepEqual(pickIds(t, 3).sort(), ['a', 'b', 'c']);
  assert.deepEqual(pool.chances(), new Map([['orders/a', 1 / 3], ['orders/b', 1 / 3], ['orders/c', 1 / 3]]));
});

test('outlier ejection through the pool: out after 5 failures, back after the ejection time, events emitted', () => {
  const clock = new ManualClock();
  const events: EjectionEvent[] = [];
  const t = table(clock, events);
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('b'), inst('c', { priority: 1 })] });
  const pool = t.service('orders')!;
  const a = pool.endpoint('a')!;
  for (let i = 0; i < 4; i++) { pool.begin(a); pool.finish(a, 1, 'failure'); }
  assert.deepEqual(eligibleIds(t), ['a', 'b']);
  pool.begin(a); pool.finish(a, 1, 'failure');
  // Tier 0 lost half its capacity: it keeps 70% of the traffic and the backup c takes 30%.
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  assert.deepEqual(events.map((e) => [e.type, e.key, e.durationMs]), [['ejected', 'orders/a', 30_000]]);
  const snap = pool.snapshot();
  assert.equal(snap.endpoints[0]!.excludedBecause, 'ejected');
  assert.equal(snap.endpoints[0]!.ejectedUntil, clock.now() + 30_000);
  assert.equal(snap.endpoints[0]!.ejections, 1);
  // 'aborted' outcomes (the client left) and removed endpoints say nothing about health.
  const b = pool.endpoint('b')!;
  for (let i = 0; i < 10; i++) { pool.begin(b); pool.finish(b, 1, 'aborted'); }
  assert.equal(b.consecutiveFailures, 0);
  clock.advance(29_999);
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  clock.advance(1);
  assert.deepEqual(eligibleIds(t), ['a', 'b']);
  assert.deepEqual(events.map((e) => e.type), ['ejected', 'returned']);
});

test('the last healthy endpoint of a tier can be ejected (traffic fails over), the only one of a service cannot', () => {
  const clock = new ManualClock();
  const t = table(clock);
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('b', { priority: 1 })] });
  const pool = t.service('orders')!;
  const a = pool.endpoint('a')!;
  for (let i = 0; i < 5; i++) { pool.begin(a); pool.finish(a, 1, 'failure'); }
  assert.equal(pool.activeTier(), 1);
  assert.deepEqual(pickIds(t, 2), ['b', 'b']);
  const solo = table(clock);
  solo.apply({ type: 'reset', index: 1, instances: [inst('only')] });
  const p = solo.service('orders')!;
  const o = p.endpoint('only')!;
  for (let i = 0; i < 20; i++) { p.begin(o); p.finish(o, 1, 'failure'); }
  assert.deepEqual(pickIds(solo, 1), ['only']);
});

test('policies per service from settings; snapshot carries policy, in-flight and limits', () => {
  const t = new EndpointTable({ clock: new ManualClock(), random: seededRandom(1) }, (s) => (s === 'users' ? { policy: 'least-request' } : {}));
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('u', { service: 'users' })] });
  assert.equal(t.service('orders')!.policyName, 'round-robin');
  assert.equal(t.service('users')!.policyName, 'least-request');
  const pool = t.service('orders')!;
  pool.begin(pool.endpoint('a')!);
  const [orders, users] = t.snapshot((s) => (s === 'orders' ? { maxConcurrent: 10, rps: () => 2.5 } : {}));
  assert.equal(orders!.policy, 'round-robin');
  assert.equal(orders!.inFlight, 1);
  assert.equal(orders!.maxConcurrent, 10);
  assert.equal(orders!.endpoints[0]!.rps, 2.5);
  assert.equal(users!.policy, 'least-request');
  t.configure(() => ({ policy: 'consistent-hash' }));
  assert.equal(t.service('users')!.policyName, 'consistent-hash');
  assert.equal(id(t.pick('orders', { hashKey: 'k' })), 'a');
});

test('peak-EWMA pools report each endpoint\'s cost in the snapshot; latencies reach the policy through finish()', () => {
  const clock = new ManualClock();
  const t = new EndpointTable({ clock, random: seededRandom(1) }, () => ({ policy: 'peak-ewma' }));
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('b')] });
  const pool = t.service('orders')!;
  const [a, b] = [pool.endpoint('a')!, pool.endpoint('b')!];
  pool.eligible(); // builds the view: endpoints start at the default 30 ms estimate
  pool.begin(a); pool.finish(a, 200, 'success');
  pool.begin(b); pool.finish(b, 5, 'failure');
  pool.begin(b);
  const snap = pool.snapshot();
  assert.deepEqual(snap.endpoints.map((e) => e.ewmaMs), [200, 30 * 2]);
  assert.ok(pool.chances().get('orders/b')! > 0.99);
  assert.equal(t.snapshot()[0]!.endpoints[0]!.ewmaMs, 200);
  const rr = table();
  rr.apply({ type: 'reset', index: 1, instances: [inst('a')] });
  assert.equal(rr.snapshot()[0]!.endpoints[0]!.ewmaMs, undefined, 'no estimate under other policies');
});

test('a retry that has tried the whole active tier goes to the next tier with an untried endpoint', () => {
  const t = table();
  t.apply({ type: 'reset', index: 1, instances: [
    inst('p1'), inst('p2'), inst('b1', { priority: 1, tags: { version: 'v2' } }), inst('c1', { priority: 2 }), inst('c2', { priority: 2 }),
  ] });
  const pick = (exclude: string[], subset?: Record<string, string>) => id(t.pick('orders', {}, new Set(exclude.map((x) => `orders/${x}`)), subset));
  // Part of the tier tried: the retry stays in the tier.
  assert.equal(pick(['p1']), 'p2');
  // The whole tier tried (p1 and p2 both refused or answered 503): the backup, not a failed primary.
  assert.equal(pick(['p1', 'p2']), 'b1');
  // The backup tried too: the tier after it.
  assert.ok(['c1', 'c2'].includes(pick(['p1', 'p2', 'b1'])));
  assert.equal(pick(['p1', 'p2', 'b1', 'c1']), 'c2');
  // Everything tried: back to the active tier's policy (a retry never turns into "no healthy endpoint").
  assert.ok(['p1', 'p2'].includes(pick(['p1', 'p2', 'b1', 'c1', 'c2'])));
  // Only endpoints that may take traffic: a critical backup or one outside the route's subset is skipped.
  t.apply({ type: 'upsert', index: 2, instance: inst('b1', { priority: 1, tags: { version: 'v2' }, health: 'critical' }) });
  assert.ok(['c1', 'c2'].includes(pick(['p1', 'p2'])));
  t.apply({ type: 'upsert', index: 3, instance: inst('b1', { priority: 1, tags: { version: 'v2' } }) });
  const sub = table();
  sub.apply({ type: 'reset', index: 1, instances: [
    inst('p', { tags: { version: 'v1' } }), inst('b', { priority: 1, tags: { version: 'v2' } }), inst('c', { priority: 2, tags: { version: 'v1' } }),
  ] });
  assert.equal(id(sub.pick('orders', {}, new Set(['orders/p']), { version: 'v1' })), 'c');
  // The first try of a request is untouched: tier 0 only.
  assert.deepEqual(pickIds(t, 4), ['p1', 'p2', 'p1', 'p2']);
});

test('an ejected endpoint whose registry health check passes again is back at once', () => {
  const clock = new ManualClock();
  const events: EjectionEvent[] = [];
  const t = table(clock, events);
  t.apply({ type: 'reset', index: 1, instances: [inst('a'), inst('b'), inst('c')] });
  const pool = t.service('orders')!;
  const a = pool.endpoint('a')!;
  for (let i = 0; i < 5; i++) { pool.begin(a); pool.finish(a, 1, 'failure'); }
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  // An update that does not change health (still passing) keeps the ejection: passive detection saw failures.
  t.apply({ type: 'upsert', index: 2, instance: inst('a', { weight: 50 }) });
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  // The check fails, then passes again: the ejection ends, 30 s early.
  t.apply({ type: 'upsert', index: 3, instance: inst('a', { health: 'critical' }) });
  assert.deepEqual(eligibleIds(t), ['b', 'c']);
  t.apply({ type: 'upsert', index: 4, instance: inst('a') });
  assert.deepEqual(eligibleIds(t), ['a', 'b', 'c']);
  assert.equal(a.ejectedUntil, 0);
  assert.deepEqual(events.map((e) => [e.type, e.key]), [['ejected', 'orders/a'], ['returned', 'orders/a']]);
  // warning → passing counts as recovery too; the freed slot lets another endpoint be ejected.
  const b = pool.endpoint('b')!;
  for (let i = 0; i < 5; i++) { pool.begin(b); pool.finish(b, 1, 'failure'); }
  assert.deepEqual(eligibleIds(t), ['a', 'c']);
  t.apply({ type: 'upsert', index: 5, instance: inst('b', { health: 'warning' }) });
  t.apply({ type: 'upsert', index: 6, instance: inst('b') });
  assert.deepEqual(eligibleIds(t), ['a', 'b', 'c']);
  // The expiry that was scheduled for a's ejection finds nothing to return and breaks nothing.
  clock.advance(60_000);
  assert.deepEqual(eligibleIds(t), ['a', 'b', 'c']);
  assert.equal(events.filter((e) => e.type === 'returned').length, 2);
});

/** A prober on hand-fired timers whose connects succeed for the addresses in `up`. */
function handProber() {
  const timers = new Map<number, () => void>();
  let next = 1;
  const up = new Set<string>();
  const prober = new ReachabilityProber({
    connect: async (address) => up.has(address),
    setTimer: (fn) => { timers.set(next, fn); return next++; },
    clearTimer: (h) => { timers.delete(h as number); },
  });
  /** Fires every pending probe once and lets the connects settle. */
  const fireAll = async () => {
    const due = [...timers.values()];
    timers.clear();
    for (const fn of due) fn();
    await new Promise((r) => setImmediate(r));
  };
  return { prober, up, timers, fireAll };
}

test('a refused connect makes an endpoint unreachable at once, past the ejection cap; a probe or a success brings it back', async () => {
  const clock = new ManualClock();
  const events: EjectionEvent[] = [];
  const h = handProber();
  const t = new EndpointTable({ clock, random: seededRandom(1), onEjection: (e) => events.push(e), prober: h.prober });
  t.apply({ type: 'reset', index: 1, instances: [inst('p1', { port: 8001 }), inst('p2', { port: 8002 }), inst('b', { priority: 1, port: 8003 })] });
  const pool = t.service('orders')!;
  const [b, p1, p2] = pool.endpoints();
  pool.connectFailed(p1!);
  // Tier 0 has half its capacity: 70% stays there, 30% spills to the backup.
  assert.deepEqual(eligibleIds(t), ['p2', 'b']);
  const snap = pool.snapshot().endpoints.find((e) => e.id === 'p1')!;
  assert.deepEqual([snap.eligible, snap.excludedBecause, snap.unreachableSince], [false, 'unreachable', clock.now()]);
  // Max-ejection-percent would allow one ejection out of three; unreachability is not bound by it.
  pool.connectFailed(p2!);
  assert.deepEqual(eligibleIds(t), ['b']);
  assert.equal(pool.activeTier(), 1);
  assert.deepEqual(pickIds(t, 3), ['b', 'b', 'b']);
  assert.equal(h.timers.size, 2, 'both are probed');
  // The first probes find nothing listening; the next one finds p1 back.
  await h.fireAll();
  assert.deepEqual(eligibleIds(t), ['b']);
  h.up.add(p1!.address);
  await h.fireAll();
  assert.deepEqual(eligibleIds(t), ['p1', 'b']);
  // A request that reaches p2 anyway (it was in flight when p2 was marked) is proof enough too.
  pool.begin(p2!); pool.finish(p2!, 1, 'success');
  assert.deepEqual(eligibleIds(t), ['p1', 'p2']);
  assert.equal(h.timers.size, 0, 'no probe left running');
  assert.deepEqual(events.map((e) => [e.type, e.key]), [
    ['unreachable', 'orders/p1'], ['unreachable', 'orders/p2'], ['reachable', 'orders/p1'], ['reachable', 'orders/p2'],
  ]);
  assert.equal(b!.unreachableSince, 0);
});

test('only unreachable endpoints left: the pool picks them anyway (panic) rather than answering "no healthy endpoint"', () => {
  const h = handProber();
  const t = new EndpointTable({ clock: new ManualClock(), random: seededRandom(1), prober: h.prober });
  t.apply({ type: 'reset', index: 1, instances: [inst('a', { port: 8001 }), inst('b', { port: 8002 })] });
  const pool = t.service('orders')!;
  pool.connectFailed(pool.endpoint('a')!);
  assert.deepEqual(pickIds(t, 2), ['b', 'b']);
  pool.connectFailed(pool.endpoint('b')!);
  assert.deepEqual(pickIds(t, 4), ['a', 'b', 'a', 'b']);
  // Registry-critical endpoints stay out even then: panic is about reachability only.
  t.apply({ type: 'upsert', index: 2, instance: inst('b', { port: 8002, health: 'critical' }) });
  assert.deepEqual(pickIds(t, 2), ['a', 'a']);
});

test('a new address or a passing health check ends the unreachable mark; deregistering stops the probe', () => {
  const h = handProber();
  const t = new EndpointTable({ clock: new ManualClock(), random: seededRandom(1), prober: h.prober });
  t.apply({ type: 'reset', index: 1, instances: [inst('a', { port: 8001 }), inst('b', { port: 8002 }), inst('c', { port: 8003, health: 'critical' })] });
  const pool = t.service('orders')!;
  pool.connectFailed(pool.endpoint('a')!);
  t.apply({ type: 'upsert', index: 2, instance: inst('a', { port: 9001 }) });
  assert.equal(pool.endpoint('a')!.unreachableSince, 0);
  pool.connectFailed(pool.endpoint('c')!);
  t.apply({ type: 'upsert', index: 3, instance: inst('c', { port: 8003 }) });
  assert.equal(pool.endpoint('c')!.unreachableSince, 0, 'its check passed: it accepts connections');
  pool.connectFailed(pool.endpoint('b')!);
  assert.equal(h.prober.size, 1);
  t.apply({ type: 'remove', index: 4, service: 'orders', id: 'b', reason: 'deregistered' });
  assert.equal(h.prober.size, 0);
  assert.deepEqual(eligibleIds(t), ['a', 'c']);
});
