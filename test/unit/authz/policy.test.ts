// Decision tables for the authorization policy, including the spellings an attacker would try to slip a
// denied path past a prefix rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, type Policy } from '../../../src/authz/policy.js';
import { normalizePath } from '../../../src/authz/path.js';
import { parsePolicy, policyFromDocument } from '../../../src/authz/load.js';

const policy: Policy = parsePolicy(`
version: 1
services:
  orders:
    deny:
      - name: no-admin
        from: "*"
        paths: [/admin]
    allow:
      - name: web-reads
        from: [web]
        methods: [GET, HEAD]
        paths: [/orders, /health]
      - name: billing-all
        from: billing
      - name: probes
        from: unauthenticated
        methods: GET
        paths: /health
  vault: {}
  locked:
`, 'policy.yaml');

type Row = [from: string | null, to: string, method: string, path: string, allowed: boolean, rule: string];

const rows: Row[] = [
  ['web', 'orders', 'GET', '/orders', true, 'services.orders.allow[0] "web-reads"'],
  ['web', 'orders', 'GET', '/orders/42?x=1', true, 'services.orders.allow[0] "web-reads"'],
  ['web', 'orders', 'get', '/orders/42', true, 'services.orders.allow[0] "web-reads"'],
  ['web', 'orders', 'HEAD', '/health', true, 'services.orders.allow[0] "web-reads"'],
  ['web', 'orders', 'POST', '/orders', false, 'default-deny for orders'],
  ['web', 'orders', 'GET', '/ordersX', false, 'default-deny for orders'],
  ['web', 'orders', 'GET', '/', false, 'default-deny for orders'],
  ['billing', 'orders', 'DELETE', '/orders/1', true, 'services.orders.allow[1] "billing-all"'],
  ['billing', 'orders', 'GET', '/admin/users', false, 'services.orders.deny[0] "no-admin"'],
  ['shipping', 'orders', 'GET', '/orders', false, 'default-deny for orders'],
  [null, 'orders', 'GET', '/health', true, 'services.orders.allow[2] "probes"'],
  [null, 'orders', 'GET', '/orders', false, 'default-deny for orders'],
  [null, 'orders', 'GET', '/admin', false, 'default-deny for orders'],
  ['web', 'payments', 'POST', '/pay', true, 'payments is not in the policy: allow all'],
  ['web', 'vault', 'GET', '/', false, 'default-deny for vault'],
  ['web', 'locked', 'GET', '/', false, 'default-deny for locked'],
];

test('decision table', () => {
  for (const [from, to, method, path, allowed, rule] of rows) {
    const d = evaluate(policy, { from, to, method, path });
    assert.deepEqual({ allowed: d.allowed, rule: d.rule }, { allowed, rule }, `${from} -> ${to} ${method} ${path}`);
  }
});

test('every spelling of /admin is denied, for every caller that billing-all would otherwise allow', () => {
  const spellings = [
    '/admin', '/admin/', '//admin', '/./admin', '/orders/../admin', '/orders/%2e%2e/admin', '/orders/%2E%2E/admin',
    '/%61dmin', '/orders%2f..%2fadmin', '/orders/%252e%252e/admin', '/orders\\..\\admin', '/orders/..%5cadmin',
    '/admin;jsessionid=1', '/admin/..;/admin', '/orders/.%2e/admin', '/a/b/../../admin', '/../admin',
    'http://orders/admin', '/admin?/orders', '/admin#/orders', '/%2fadmin', '///admin//users',
  ];
  for (const path of spellings) {
    const d = evaluate(policy, { from: 'billing', to: 'orders', method: 'GET', path });
    assert.equal(d.allowed, false, `${path} was allowed (normalised to ${d.path})`);
    assert.equal(d.rule, 'services.orders.deny[0] "no-admin"', path);
  }
});

test('path tricks do not widen an allow rule either', () => {
  for (const path of ['/orders/../admin', '/orders/%2e%2e/secret', '/health/../../secret', '/orders%2f..%2fsecret']) {
    assert.equal(evaluate(policy, { from: 'web', to: 'orders', method: 'GET', path }).allowed, false, path);
  }
});

test('malformed paths are never allowed by a path rule', () => {
  for (const path of ['/orders/%zz', '/orders/%', '/orders/%00', '/orders/\0x']) {
    const d = evaluate(policy, { from: 'web', to: 'orders', method: 'GET', path });
    assert.equal(d.allowed, false, path);
  }
  // a deny rule with paths catches a malformed path from a caller an allow-all rule would let in
  assert.equal(evaluate(policy, { from: 'billing', to: 'orders', method: 'GET', path: '/admin/%zz' }).rule, 'services.orders.deny[0] "no-admin"');
});

test('no policy allows everything; defaultAction deny closes unnamed services', () => {
  assert.deepEqual(evaluate(null, { from: null, to: 'x', method: 'GET', path: '/' }), { allowed: true, rule: 'no policy: allow all', path: null });
  const strict = policyFromDocument({ defaultAction: 'deny', services: { a: { allow: [{ from: '*' }] } } });
  assert.equal(evaluate(strict, { from: 'b', to: 'c', method: 'GET', path: '/' }).allowed, false);
  assert.equal(evaluate(strict, { from: 'b', to: 'a', method: 'GET', path: '/' }).allowed, true);
  assert.equal(evaluate(strict, { from: null, to: 'a', method: 'GET', path: '/' }).allowed, false, '"*" means authenticated callers only');
});

test('normalizePath table', () => {
  const table: [string, string | null][] = [
    ['/', '/'], ['', '/'], ['/a/b/', '/a/b/'], ['/a/./b', '/a/b'], ['/a/../../b', '/b'], ['/a%2Fb', '/a/b'],
    ['/a;x=1/b;y', '/a/b'], ['/caf%C3%A9', '/café'], ['/50%25', '/50%'], ['/a?b=../c', '/a'], ['/%zz', null], ['/a%00', null],
    ['/%252525252e%252525252e/x', null], ['/%25252e%25252e/x', '/x'],
  ];
  for (const [input, want] of table) assert.equal(normalizePath(input), want, input);
});

test('policy validation names the spot of every mistake', () => {
  const bad: [string, RegExp][] = [
    ['services: {orders: {allow: [{from: web, methods: [FETCH]}]}}', /services.orders.allow\[0\].methods\[0\]: "FETCH" is not an HTTP method/],
    ['services: {orders: {allow: [{from: Web}]}}', /services.orders.allow\[0\].from\[0\]: invalid service name "Web"/],
    ['services: {orders: {allow: [{methods: [GET]}]}}', /services.orders.allow\[0\]: "from" is required/],
    ['services: {orders: {allow: [{from: web, path: [/x]}]}}', /unknown key "path"/],
    ['services: {orders: {allow: [{from: web, paths: [x]}]}}', /paths\[0\]: "x" must start with \//],
    ['services: {orders: {alow: []}}', /services.orders: unknown key "alow"/],
    ['defaultAction: maybe\nservices: {}', /defaultAction: use "allow" or "deny"/],
    ['version: 2\nservices: {}', /unsupported version 2/],
    ['- just a list', /policy: expected an object/],
    ['services: [1, 2]', /services: expected a map/],
    ['services: {orders: {allow: [{from: web}]}', /policy "p.yaml" is invalid/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parsePolicy(text, 'p.yaml'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESH_ERR_CONFIG_INVALID');
      assert.match(err.message, re, text);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    }, text);
  }
  assert.throws(() => parsePolicy('{"services": ', 'p.json'), /policy "p.json" is invalid/);
  assert.equal(parsePolicy('{"services": {"a": {"allow": [{"from": "b"}]}}}', 'p.json').services.a!.allow[0]!.from[0], 'b');
});

test('"services" is optional: without it every destination follows defaultAction', () => {
  const closed = parsePolicy('version: 1\ndefaultAction: deny\n', 'p.yaml');
  assert.deepEqual(closed, { version: 1, defaultAction: 'deny', services: {} });
  assert.deepEqual(evaluate(closed, { from: 'web', to: 'orders', method: 'GET', path: '/' }), { allowed: false, rule: 'default-deny (defaultAction: deny; orders is not in the policy)', path: null });
  const open = parsePolicy('defaultAction: allow\nservices:\n', 'p.yaml'); // an empty services: key reads as none
  assert.equal(evaluate(open, { from: 'web', to: 'orders', method: 'GET', path: '/' }).allowed, true);
  assert.equal(parsePolicy('{"defaultAction": "deny"}', 'p.json').defaultAction, 'deny');
});
