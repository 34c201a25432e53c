import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addrLabel, normaliseDomain, parseName, tagLabel } from '../../../../src/registry/dns/names.js';

test('parseName: the names mesh answers, case-insensitively', () => {
  const d = 'mesh';
  const cases: [string, ReturnType<typeof parseName>][] = [
    ['mesh', { kind: 'apex' }],
    ['MESH.', { kind: 'apex' }],
    ['orders.service.mesh', { kind: 'service', service: 'orders' }],
    ['Orders.SERVICE.Mesh', { kind: 'service', service: 'orders' }],
    ['v2.version.orders.service.mesh', { kind: 'service', service: 'orders', tag: 'v2.version' }],
    ['version.orders.service.mesh', { kind: 'service', service: 'orders', tag: '.version' }],
    ['_orders._tcp.service.mesh', { kind: 'srv', service: 'orders' }],
    ['_orders._udp.service.mesh', { kind: 'nxdomain' }],
    ['service.mesh', { kind: 'empty' }],
    ['addr.mesh', { kind: 'empty' }],
    ['7f000001.addr.mesh', { kind: 'addr', ip: '127.0.0.1', family: 4 }],
    ['20010db8000000000000000000000001.addr.mesh', { kind: 'addr', ip: '2001:db8:0:0:0:0:0:1', family: 6 }],
    ['zz.addr.mesh', { kind: 'nxdomain' }],
    ['a.b.c.d.service.mesh', { kind: 'nxdomain' }],
    ['-bad.service.mesh', { kind: 'nxdomain' }],
    ['node.mesh', { kind: 'nxdomain' }],
    ['example.com', { kind: 'outside' }],
    ['notmesh', { kind: 'outside' }],
    ['orders.service.mesh.example.com', { kind: 'outside' }],
  ];
  for (const [name, want] of cases) assert.deepEqual(parseName(name, d), want, name);
  assert.deepEqual(parseName('web.service.mesh.internal', 'mesh.internal'), { kind: 'service', service: 'web' });
});

test('tagLabel: key=value → <value>.<key> when both are DNS labels, else no DNS name', () => {
  assert.equal(tagLabel('version', 'v2'), 'v2.version');
  assert.equal(tagLabel('Version', 'V2'), 'v2.version');
  assert.equal(tagLabel('canary_pct', '10'), '10.canary_pct');
  assert.equal(tagLabel('app.kubernetes.io/name', 'web'), undefined, 'a key with dots or slashes has no label');
  assert.equal(tagLabel('owner', 'team blue'), undefined);
  assert.equal(tagLabel('k', 'x'.repeat(64)), undefined, 'labels are at most 63 characters');
});

test('addrLabel: IPv4 as 8 hex digits, IPv6 as 32, and back through parseName', () => {
  assert.equal(addrLabel('10.0.2.255', 4), '0a0002ff');
  assert.equal(addrLabel('::1', 6), '00000000000000000000000000000001');
  assert.equal(addrLabel('2001:db8::8a2e:370:7334', 6), '20010db80000000000008a2e03707334');
  assert.equal(addrLabel('::ffff:127.0.0.1', 6), '00000000000000000000ffff7f000001');
  const back = parseName(`${addrLabel('fd00::1:2', 6)}.addr.mesh`, 'mesh');
  assert.deepEqual(back, { kind: 'addr', ip: 'fd00:0:0:0:0:0:1:2', family: 6 });
});

test('normaliseDomain: lower case, no dots at the ends; refuses what is not a name', () => {
  assert.equal(normaliseDomain('Mesh.Internal.'), 'mesh.internal');
  assert.throws(() => normaliseDomain('bad..name'), /invalid DNS domain/);
  assert.throws(() => normaliseDomain(''), /invalid DNS domain/);
});
