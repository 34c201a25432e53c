import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutesEndpoint, RoutesSnapshot } from '../../../src/core/admin-types.js';
import { ManualClock } from '../../../src/core/clock.js';
import { DEFAULT_CONFIG, parseConfig } from '../../../src/proxy/config.js';
import { explainRequest } from '../../../src/proxy/explain.js';

const clock = new ManualClock(1_700_000_000_000);
const ep = (id: string, over: Partial<RoutesEndpoint> = {}): RoutesEndpoint => ({
  id, address: `127.0.0.1:${9000 + id.length}`, weight: 100, priority: 0, tags: {}, health: 'passing', ejections: 0,
  consecutiveFailures: 0, inFlight: 0, rps: 0, eligible: true, ...over,
});
const snap = (policy: string, endpoints: RoutesEndpoint[]): RoutesSnapshot => ({
  index: 3, registry: { url: 'http://127.0.0.1:8500', connected: true },
  services: [{ service: 'orders', policy, activeTier: 0, inFlight: 0, endpoints }],
});
const get = (url: string, headers: [string, string][] = []) => ({ url, method: 'GET', headers });

test('excluded endpoints carry their reason; weighted chances follow weights', () => {
  const r = explainRequest(get('http://orders/x'), snap('weighted', [
    ep('a', { weight: 100 }), ep('b', { weight: 300 }), ep('c', { health: 'critical' }),
    ep('d', { ejectedUntil: clock.now() + 25_000 }), ep('e', { priority: 1 }),
  ]), DEFAULT_CONFIG, clock);
  assert.equal(r.service, 'orders');
  assert.equal(r.outcome.forwarded, true);
  const by = Object.fromEntries(r.endpoints.map((e) => [e.id, e]));
  // Tier 0 has 400 of its 600 weight eligible: 1.4 × 66% keeps 93% of the traffic, 7% spills to e.
  assert.equal(by.a!.chance, 0.2325);
  assert.equal(by.b!.chance, 0.6975);
  assert.equal(by.e!.chance, 0.07);
  assert.equal(by.c!.excludedBecause, 'critical');
  assert.equal(by.d!.excludedBecause, 'ejected');
  assert.equal(by.d!.ejectedUntil, clock.now() + 25_000);
  assert.deepEqual(r.subsets[0]!.tiers, [{ priority: 0, health: 93, load: 93 }, { priority: 1, health: 100, load: 7 }]);
});

test('unreachable endpoints are named as such, spill traffic to the backup, and are used when nothing else is left', () => {
  const eps = [ep('p1', { unreachableSince: clock.now() - 1_000 }), ep('p2'), ep('b', { priority: 1 })];
  const r = explainRequest(get('http://orders/'), snap('round-robin', eps), DEFAULT_CONFIG, clock);
  assert.deepEqual(r.endpoints.map((e) => [e.id, e.chance, e.excludedBecause]), [['p1', 0, 'unreachable'], ['p2', 0.7, undefined], ['b', 0.3, undefined]]);
  assert.equal(r.endpoints[0]!.unreachableSince, clock.now() - 1_000);
  const healthy = explainRequest(get('http://orders/'), snap('round-robin', [ep('p1'), ep('p2'), ep('b', { priority: 1 })]), DEFAULT_CONFIG, clock);
  assert.deepEqual(healthy.endpoints.map((e) => [e.id, e.chance, e.excludedBecause]), [['p1', 0.5, undefined], ['p2', 0.5, undefined], ['b', 0, 'inactive-tier']]);
  const panic = explainRequest(get('http://orders/'), snap('round-robin', [ep('p1', { unreachableSince: 1 }), ep('p2', { unreachableSince: 1 })]), DEFAULT_CONFIG, clock);
  assert.equal(panic.outcome.forwarded, true);
  assert.deepEqual(panic.endpoints.map((e) => e.chance), [0.5, 0.5]);
});

test('backups take all traffic when the primaries are down', () => {
  const r = explainRequest(get('http://orders/'), snap('round-robin', [ep('p', { health: 'critical' }), ep('b1', { priority: 1 }), ep('b2', { priority: 1 })]), DEFAULT_CONFIG, clock);
  assert.deepEqual(r.endpoints.map((e) => [e.id, e.chance]), [['p', 0], ['b1', 0.5], ['b2', 0.5]]);
  assert.equal(r.subsets[0]!.activeTier, 1);
});

test('a route rule with a weighted split: chances per subset, other endpoints excluded by subset', () => {
  const config = parseConfig({ services: { orders: { routes: [
    { match: { pathPrefix: '/api', headers: { 'x-canary': '1' } }, split: [{ tags: { version: 'v2' }, weight: 1 }] },
    { match: { pathPrefix: '/api' }, split: [{ tags: { version: 'v1' }, weight: 90 }, { tags: { version: 'v2' }, weight: 10 }] },
  ] } } });
  const eps = [ep('v1a', { tags: { version: 'v1' } }), ep('v1b', { tags: { version: 'v1' } }), ep('v2', { tags: { version: 'v2' } }), ep('old', { tags: { version: 'v0' } })];
  const r = explainRequest(get('http://orders/api/list'), snap('round-robin', eps), config, clock);
  assert.equal(r.route!.index, 1);
  assert.deepEqual(r.endpoints.map((e) => [e.id, e.chance]), [['v1a', 0.45], ['v1b', 0.45], ['v2', 0.1], ['old', 0]]);
  assert.equal(r.endpoints[3]!.excludedBecause, 'subset');
  const canary = explainRequest(get('http://orders/api/list', [['x-canary', '1']]), snap('round-robin', eps), config, clock);
  assert.equal(canary.route!.index, 0);
  assert.deepEqual(canary.endpoints.filter((e) => e.eligible).map((e) => e.id), ['v2']);
});

test('unknown service, no healthy endpoint and malformed targets say what the proxy would answer', () => {
  const s = snap('random', [ep('a', { health: 'critical' })]);
  assert.equal(explainRequest(get('http://payments/'), s, DEFAULT_CONFIG, clock).outcome.code, 'MESH_ERR_NO_SUCH_SERVICE');
  const none = explainRequest(get('http://orders/'), s, DEFAULT_CONFIG, clock);
  assert.equal(none.outcome.status, 503);
  assert.equal(none.outcome.code, 'MESH_ERR_NO_HEALTHY_ENDPOINT');
  assert.equal(explainRequest(get('ftp://orders/'), s, DEFAULT_CONFIG, clock).outcome.status, 400);
  assert.equal(explainRequest({ url: '/x', method: 'GET', headers: [['host', 'orders.mesh:80']] }, s, DEFAULT_CONFIG, clock).service, 'orders');
});

test('least-request favours the idle endpoint; consistent hash with a key names one endpoint', () => {
  const lr = explainRequest(get('http://orders/'), snap('least-request', [ep('busy', { inFlight: 50 }), ep('idle'), ep('idle2')]), DEFAULT_CONFIG, clock);
  const by = Object.fromEntries(lr.endpoints.map((e) => [e.id, e.chance]));
  assert.ok(by.busy! < by.idle!, JSON.stringify(by));
  assert.ok(Math.abs(lr.endpoints.reduce((a, e) => a + e.chance, 0) - 1) < 1e-6);
  const config = parseConfig({ services: { orders: { policy: 'consistent-hash', hashHeader: 'x-user' } } });
  const ch = explainRequest(get('http://orders/', [['x-user', 'alice']]), snap('consistent-hash', [ep('a'), ep('b'), ep('c')]), config, clock);
  assert.deepEqual(ch.endpoints.map((e) => e.chance).sort(), [0, 0, 1]);
});

test('headers with an underscore: explain lists the ones the service would drop, none where it allows them', () => {
  const s = snap('round-robin', [ep('a')]);
  const h: [string, string][] = [['x_user', 'admin'], ['x-user', 'alice']];
  assert.deepEqual(explainRequest(get('http://orders/', h), s, DEFAULT_CONFIG, clock).headerRules, { underscores: 'dropped', dropped: ['x_user'] });
  const allow = parseConfig({ services: { orders: { allowUnderscoresInHeaders: true } } });
  assert.deepEqual(explainRequest(get('http://orders/', h), s, allow, clock).headerRules, { underscores: 'forwarded', dropped: [] });
  assert.equal(explainRequest(get('http://payments/', h), s, DEFAULT_CONFIG, clock).headerRules, undefined);
});
