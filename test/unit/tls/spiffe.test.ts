import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatServiceId, parseSpiffeId, spiffeIdOf, splitAltNames, validateTrustDomain } from '../../../src/tls/spiffe.js';
import type { PeerCertificate } from 'node:tls';

test('formats and parses service identities', () => {
  const id = formatServiceId('mesh.local', 'orders');
  assert.equal(id, 'spiffe://mesh.local/service/orders');
  assert.deepEqual(parseSpiffeId(id), { trustDomain: 'mesh.local', path: '/service/orders', service: 'orders' });
  assert.deepEqual(parseSpiffeId('spiffe://prod.example/ns/a/sa/b'), { trustDomain: 'prod.example', path: '/ns/a/sa/b', service: null });
  assert.deepEqual(parseSpiffeId('spiffe://td'), { trustDomain: 'td', path: '', service: null });
});

test('rejects malformed SPIFFE IDs', () => {
  for (const bad of [
    'http://mesh.local/service/orders', 'spiffe://MESH.local/service/x', 'spiffe://mesh.local:8443/service/x',
    'spiffe://user@mesh.local/x', 'spiffe://mesh.local/service/../admin', 'spiffe://mesh.local/service//x',
    'spiffe://mesh.local/service/x?y', 'spiffe://mesh.local/service/x#f', 'spiffe://mesh.local/', 'spiffe://',
  ]) assert.throws(() => parseSpiffeId(bad), /invalid SPIFFE ID/, bad);
  assert.throws(() => validateTrustDomain('Mesh Local'), /invalid trust domain/);
  assert.equal(validateTrustDomain('mesh.local'), 'mesh.local');
});

test('splits Node subjectAltName strings, including JSON-quoted entries', () => {
  assert.deepEqual(splitAltNames('URI:spiffe://mesh.local/service/orders, DNS:orders, IP Address:127.0.0.1'), [
    { type: 'URI', value: 'spiffe://mesh.local/service/orders' }, { type: 'DNS', value: 'orders' }, { type: 'IP Address', value: '127.0.0.1' },
  ]);
  assert.deepEqual(splitAltNames('DNS:"a, URI:spiffe://evil/service/x", URI:spiffe://mesh.local/service/web'), [
    { type: 'DNS', value: 'a, URI:spiffe://evil/service/x' }, { type: 'URI', value: 'spiffe://mesh.local/service/web' },
  ]);
  assert.deepEqual(splitAltNames(undefined), []);
});

test('a certificate has an identity only with exactly one valid spiffe URI SAN', () => {
  const cert = (san: string) => ({ subjectaltname: san }) as PeerCertificate;
  assert.equal(spiffeIdOf(cert('DNS:web, URI:spiffe://mesh.local/service/web')), 'spiffe://mesh.local/service/web');
  assert.equal(spiffeIdOf(cert('URI:spiffe://mesh.local/service/web, URI:spiffe://mesh.local/service/admin')), null);
  assert.equal(spiffeIdOf(cert('URI:https://mesh.local/service/web')), null);
  assert.equal(spiffeIdOf(cert('DNS:"x, URI:spiffe://mesh.local/service/admin"')), null, 'a quoted DNS name cannot smuggle a URI');
  assert.equal(spiffeIdOf(cert('')), null);
  assert.equal(spiffeIdOf(null), null);
});
