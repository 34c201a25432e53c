import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom } from '../../../src/core/clock.js';
import { createPolicy, isPolicyName, POLICY_NAMES } from '../../../src/proxy/balancer/index.js';
import type { BalancerEndpoint, BalancerPolicy, PolicyName } from '../../../src/proxy/balancer/policy.js';
import { ValidationError } from '../../../src/core/errors.js';
import { PeakEwmaPolicy } from '../../../src/proxy/balancer/peak-ewma.js';

function ep(name: string, weight = 100): BalancerEndpoint {
  return { key: `svc/${name}`, address: `${name}:80`, weight, inFlight: 0, ewmaMs: 0, ewmaStamp: 0 };
}
function names(list: readonly BalancerEndpoint[]): string[] { return list.map((e) => e.key.slice(4)); }
function policy(name: PolicyName, seed = 1, clock = new ManualClock()): BalancerPolicy {
  return createPolicy(name, { clock, random: seededRandom(seed) });
}
function picks(p: BalancerPolicy, eps: BalancerEndpoint[], n: number, key?: string, exclude?: Set<string>): BalancerEndpoint[] {
  p.update?.(eps);
  const out: BalancerEndpoint[] = [];
  for (let i = 0; i < n; i++) out.push(p.pick(eps, key === undefined ? {} : { hashKey: key }, exclude));
  return out;
}
function shares(list: readonly BalancerEndpoint[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of list) m.set(e.key.slice(4), (m.get(e.key.slice(4)) ?? 0) + 1 / list.length);
  return m;
}

test('expected pick order: round robin and smooth weighted (nginx)', () => {
  const table: Array<{ policy: PolicyName; weights: number[]; order: string }> = [
    { policy: 'round-robin', weights: [100, 100, 100], order: 'abcabca' },
    { policy: 'round-robin', weights: [500, 100, 100], order: 'aabacaa' }, // the default honours weights
    { policy: 'round-robin', weights: [300, 100], order: 'aaba'.repeat(2) },
    { policy: 'weighted', weights: [5, 1, 1], order: 'aabacaa' },
    { policy: 'weighted', weights: [5, 1, 1], order: 'aabacaa'.repeat(3) }, // exact in every window
    { policy: 'weighted', weights: [1, 1, 1], order: 'abcabc' },
    { policy: 'weighted', weights: [2, 1], order: 'aba' + 'aba' },
  ];
  for (const row of table) {
    const eps = row.weights.map((w, i) => ep('abc'[i]!, w));
    assert.equal(names(picks(policy(row.policy), eps, row.order.length)).join(''), row.order, `${row.policy} ${row.weights}`);
  }
});

test('every policy retries on a different endpoint when one exists, and on the same one when not', () => {
  for (const name of POLICY_NAMES) {
    const eps = [ep('a'), ep('b'), ep('c')];
    const p = policy(name, 7);
    for (let i = 0; i < 200; i++) {
      const first = p.pick(eps, { hashKey: `k${i}` });
      const second = p.pick(eps, { hashKey: `k${i}` }, new Set([first.key]));
      assert.notEqual(second.key, first.key, name);
      const third = p.pick(eps, { hashKey: `k${i}` }, new Set([first.key, second.key]));
      assert.ok(third.key !== first.key && third.key !== second.key, name);
      const all = p.pick(eps, { hashKey: `k${i}` }, new Set(eps.map((e) => e.key)));
      assert.ok(eps.includes(all), `${name}: all excluded still picks one`);
    }
    const one = [ep('solo')];
    assert.equal(p.pick(one, {}, new Set(['svc/solo'])), one[0], name);
  }
});

test('weights 100:300 give 25% ± 3% over 4,000 picks (round robin, weighted, random, least-request, peak-EWMA idle)', () => {
  for (const name of ['round-robin', 'weighted', 'random', 'least-request', 'peak-ewma'] as PolicyName[]) {
    const eps = [ep('a', 100), ep('b', 300)];
    const share = shares(picks(policy(name, 42), eps, 4000)).get('a')!;
    assert.ok(Math.abs(share - 0.25) <= 0.03, `${name}: ${share}`);
  }
});

test('random is roughly uniform and exact chances are 1/n', () => {
  const eps = [ep('a'), ep('b'), ep('c'), ep('d')];
  const s = shares(picks(policy('random', 3), eps, 8000));
  for (const n of ['a', 'b', 'c', 'd']) assert.ok(Math.abs(s.get(n)! - 0.25) < 0.02, `${n}: ${s.get(n)}`);
  for (const name of ['random', 'round-robin'] as PolicyName[]) {
    for (const c of policy(name).chances!(eps).values()) assert.equal(c, 0.25);
  }
  assert.deepEqual([...policy('weighted').chances!([ep('a', 100), ep('b', 300)]).values()], [0.25, 0.75]);
});

test('least-request steers away from an endpoint with many requests in flight', () => {
  const eps = [ep('a'), ep('b'), ep('c')];
  eps[1]!.inFlight = 10;
  const p = policy('least-request', 5);
  const s = shares(picks(p, eps, 3000));
  assert.equal(s.get('b') ?? 0, 0, 'two distinct candidates: the busiest never wins');
  const chances = p.chances!(eps);
  assert.equal(chances.get('svc/b'), 0);
  assert.ok(Math.abs(chances.get('svc/a')! - 0.5) < 1e-9);
  // Chances match what picking does.
  assert.ok(Math.abs(s.get('a')! - 0.5) < 0.03);
});

test('peak-EWMA steers away from a slow endpoint, then tries it again once its estimate decays', () => {
  const clock = new ManualClock();
  const eps = [ep('fast'), ep('slow'), ep('other')];
  const p = policy('peak-ewma', 9, clock);
  p.update!(eps);
  for (let i = 0; i < 20; i++) { p.observe!(eps[0]!, 2, true); p.observe!(eps[2]!, 2, true); p.observe!(eps[1]!, 500, true); clock.advance(10); }
  const s = shares(picks(p, eps, 3000));
  assert.ok((s.get('slow') ?? 0) < 0.01, `slow got ${s.get('slow')}`);
  assert.ok(p.chances!(eps).get('svc/slow')! < 0.01);
  // The peak sticks: one slow answer from "fast" makes it the expensive one at once.
  p.observe!(eps[0]!, 900, true);
  assert.ok(p.chances!(eps).get('svc/fast')! < 0.01);
  // A minute on (τ = 10 s) in which the others keep answering in 2 ms: the idle slow endpoint's estimate has
  // decayed below theirs, so it is tried again.
  for (let i = 0; i < 600; i++) { clock.advance(100); p.observe!(eps[0]!, 2, true); p.observe!(eps[2]!, 2, true); }
  const c = p.chances!(eps);
  assert.ok(c.get('svc/slow')! > 0.3, `slow chance after decay ${c.get('svc/slow')}`);
  // In-flight load multiplies the cost: 3 requests in flight make "other" the one to avoid.
  eps[2]!.inFlight = 3;
  assert.ok(p.chances!(eps).get('svc/other')! < 0.01);
});

test('peak-EWMA decay time is configurable', () => {
  const clock = new ManualClock();
  const make = (decayMs: number) => new PeakEwmaPolicy(clock, seededRandom(1), { decayMs });
  const quick = make(100);
  const slow = make(100_000);
  const a = ep('a');
  const b = ep('b');
  for (const p of [quick, slow]) {
    const e = p === quick ? a : b;
    p.update([e]);
    assert.equal(p.estimate(e), 30, 'the default estimate before any sample');
    p.observe(e, 100);
  }
  clock.advance(100);
  quick.observe(a, 10);
  slow.observe(b, 10);
  // One τ later a τ of 100 ms weighs the new sample at 1 - 1/e, a τ of 100 s hardly at all.
  assert.ok(Math.abs(a.ewmaMs - (100 / Math.E + 10 * (1 - 1 / Math.E))) < 1e-9, String(a.ewmaMs));
  assert.ok(b.ewmaMs > 99.9, String(b.ewmaMs));
  // While idle the estimate decays towards zero with the same τ.
  clock.advance(100);
  assert.ok(Math.abs(quick.estimate(a) - a.ewmaMs / Math.E) < 1e-9);
});

test('consistent hash: same key same endpoint, ~1/n of keys move when one endpoint joins or leaves', () => {
  const keys = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
  const five = ['a', 'b', 'c', 'd', 'e'].map((n) => ep(n));
  const p = policy('consistent-hash');
  p.update!(five);
  const before = new Map(keys.map((k) => [k, p.pick(five, { hashKey: k }).key]));
  for (const k of keys.slice(0, 200)) assert.equal(p.pick(five, { hashKey: k }).key, before.get(k), 'stable while the set is stable');
  // Balance: each of 5 endpoints owns 20% ± 5% of the ring and of the keys.
  for (const [key, share] of p.chances!(five)) assert.ok(Math.abs(share - 0.2) < 0.05, `${key} ${share}`);
  const s = shares(keys.map((k) => p.pick(five, { hashKey: k })));
  for (const share of s.values()) assert.ok(Math.abs(share - 0.2) < 0.05);

  // One joins: only keys that now go to the newcomer move, about 1/6 of them.
  const six = [...five, ep('f')];
  const q = policy('consistent-hash');
  q.update!(six);
  let moved = 0;
  for (const k of keys) {
    const now = q.pick(six, { hashKey: k }).key;
    if (now !== before.get(k)) { moved++; assert.equal(now, 'svc/f', 'a moved key moves only to the newcomer'); }
  }
  assert.ok(Math.abs(moved / keys.length - 1 / 6) < 0.06, `moved ${moved / keys.length}`);

  // One leaves: only its own keys move.
  const four = five.filter((e) => e.key !== 'svc/c');
  const r = policy('consistent-hash');
  r.update!(four);
  moved = 0;
  for (const k of keys) {
    const now = r.pick(four, { hashKey: k }).key;
    if (now !== before.get(k)) { moved++; assert.equal(before.get(k), 'svc/c'); }
  }
  assert.ok(Math.abs(moved / keys.length - 1 / 5) < 0.06, `moved ${moved / keys.length}`);
  // Order of the endpoint list does not matter (every proxy builds the same ring).
  const reversed = [...five].reverse();
  const t = policy('consistent-hash');
  t.update!(reversed);
  for (const k of keys.slice(0, 500)) assert.equal(t.pick(reversed, { hashKey: k }).key, before.get(k));
});

test('consistent hash honours weights and falls back to (smooth weighted) round robin without a key', () => {
  const eps = [ep('a', 100), ep('b', 300)];
  const p = policy('consistent-hash');
  p.update!(eps);
  const share = p.chances!(eps).get('svc/a')!;
  assert.ok(Math.abs(share - 0.25) < 0.05, `ring share ${share}`);
  assert.equal(names(picks(p, eps, 4)).join(''), 'babb');
});

test('policy names: factory and validation', () => {
  for (const name of POLICY_NAMES) { assert.equal(policy(name).name, name); assert.ok(isPolicyName(name)); }
  assert.ok(!isPolicyName('fastest'));
  assert.throws(() => createPolicy('fastest', { clock: new ManualClock(), random: seededRandom(1) }), ValidationError);
});

test('p2c chances are exact: they match observed shares under mixed load and weights', () => {
  const eps = [ep('a', 100), ep('b', 200), ep('c', 300)];
  eps[0]!.inFlight = 1; eps[1]!.inFlight = 4; eps[2]!.inFlight = 3;
  const p = policy('least-request', 11);
  const s = shares(picks(p, eps, 20_000));
  const c = p.chances!(eps);
  let sum = 0;
  for (const [key, chance] of c) { sum += chance; assert.ok(Math.abs((s.get(key.slice(4)) ?? 0) - chance) < 0.015, `${key}: ${chance} vs ${s.get(key.slice(4))}`); }
  assert.ok(Math.abs(sum - 1) < 1e-9);
});
