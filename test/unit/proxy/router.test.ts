// Router: request → service, path normalisation, route rule matching and weighted splits (pure, seeded).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../../src/core/clock.js';
import { parseConfig } from '../../../src/config/proxy-config.js';
import { chooseRoute, normalisePath, pathHasPrefix, serviceFromAuthority, targetOf } from '../../../src/proxy/router.js';

test('service names come from the authority: name, name.mesh, with or without a port', () => {
  const cases: Array<[string, string | null]> = [
    ['orders', 'orders'], ['orders.mesh', 'orders'], ['orders:8080', 'orders'], ['Orders.Mesh:80', 'orders'], ['orders.mesh.', 'orders'],
    ['10.0.0.1', null], ['10.0.0.1:80', null], ['[::1]:80', null], ['orders.example.com', null], ['', null], ['-bad', null], [`${'a'.repeat(64)}`, null],
  ];
  for (const [authority, want] of cases) assert.equal(serviceFromAuthority(authority), want, authority);
});

test('targetOf handles origin-form with Host and absolute-form URIs', () => {
  assert.deepEqual(targetOf('/a?b=1', 'orders'), { service: 'orders', authority: 'orders', path: '/a?b=1', matchPath: '/a' });
  assert.deepEqual(targetOf('http://orders.mesh:81/x', 'ignored'), { service: 'orders', authority: 'orders.mesh:81', path: '/x', matchPath: '/x' });
  assert.deepEqual(targetOf('http://user:pw@orders', undefined), { service: 'orders', authority: 'orders', path: '/', matchPath: '/' });
  assert.equal(targetOf('http://orders?q', undefined).constructor, Object);
  assert.equal((targetOf('http://orders?q', undefined) as { path: string }).path, '/?q');
  assert.equal(typeof targetOf('/x', undefined), 'string');
  assert.equal(typeof targetOf('https://orders/x', undefined), 'string');
  assert.equal(typeof targetOf('*', 'orders'), 'string');
});

test('path normalisation: every spelling of a path is the same path', () => {
  const cases: Array<[string, string]> = [
    ['/', '/'], ['/a/b', '/a/b'], ['/a/./b', '/a/b'], ['/a/../b', '/b'], ['/../../etc', '/etc'], ['//a///b', '/a/b'],
    ['/a/%2e%2e/b', '/b'], ['/a/%2E/b', '/a/b'], ['/%61dmin', '/admin'], ['/a%2Fb', '/a%2Fb'], ['/a%2fb', '/a%2Fb'],
    ['/a/b/', '/a/b/'], ['/a/b/..', '/a/'], ['/a/.', '/a/'], ['/%7euser', '/~user'], ['/sp%20ace', '/sp%20ace'],
  ];
  for (const [raw, want] of cases) assert.equal(normalisePath(raw), want, raw);
});

test('prefixes match on segment boundaries', () => {
  assert.ok(pathHasPrefix('/api/v1', '/api'));
  assert.ok(pathHasPrefix('/api', '/api'));
  assert.ok(!pathHasPrefix('/apiary', '/api'));
  assert.ok(pathHasPrefix('/apiary', '/'));
  assert.ok(pathHasPrefix('/api/x', '/api/'));
});

const rules = parseConfig({
  services: {
    orders: {
      routes: [
        { match: { pathPrefix: '/admin', headers: { 'X-Team': 'ops' } }, split: [{ tags: { version: 'v3' } }] },
        { match: { pathPrefix: '/api/v2' }, split: [{ tags: { version: 'v2' } }], retryable: true },
        { match: { pathPrefix: '/' }, split: [{ tags: { version: 'v1' }, weight: 90 }, { tags: { version: 'v2' }, weight: 10 }] },
      ],
    },
  },
}).services.get('orders')!.routes;

test('the first matching rule wins; header matches are exact and case-insensitive on the name', () => {
  const none = () => undefined;
  const ops = (n: string) => (n === 'x-team' ? 'ops' : undefined);
  const r = seededRandom(1);
  assert.deepEqual(chooseRoute(rules, '/admin/x', ops, r).subset, { version: 'v3' });
  assert.notDeepEqual(chooseRoute(rules, '/admin/x', none, r).subset, { version: 'v3' });
  const v2 = chooseRoute(rules, '/api/v2/items', none, r);
  assert.deepEqual(v2.subset, { version: 'v2' });
  assert.equal(v2.rule?.retryable, true);
  assert.equal(chooseRoute([], '/x', none, r).rule, undefined);
});

test('a 90/10 split lands 10% ± 1% over 20,000 seeded picks', () => {
  const r = seededRandom(42);
  let v2 = 0;
  for (let i = 0; i < 20_000; i++) if (chooseRoute(rules, '/shop', () => undefined, r).subset?.version === 'v2') v2++;
  assert.ok(Math.abs(v2 / 20_000 - 0.1) < 0.01, `v2 share ${v2 / 20_000}`);
});

test('splits return the same tag object each time (pools cache subset views by identity)', () => {
  const r = seededRandom(3);
  const seen = new Set<object>();
  for (let i = 0; i < 200; i++) seen.add(chooseRoute(rules, '/x', () => undefined, r).subset!);
  assert.equal(seen.size, 2);
});
