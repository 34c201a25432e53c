import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markHttps, withClientId } from '../../../src/proxy/inbound/inbound.js';
import { isTlsHandshakeFailure, refusedIdentityMessage, refusedServerCertificate } from '../../../src/proxy/upstream/outbound-tls.js';
import { InboundMetrics } from '../../../src/proxy/inbound/metrics.js';

test('every caller-sent x-mesh-client-id is dropped, whatever its case; ours is set only for authenticated callers', () => {
  const sent = ['Host', 'orders', 'X-Mesh-Client-Id', 'spiffe://mesh.local/service/admin', 'x-mesh-client-id', 'evil', 'X-MESH-CLIENT-ID', 'x', 'accept', '*/*'];
  assert.deepEqual(withClientId(sent, 'spiffe://mesh.local/service/web'), ['Host', 'orders', 'accept', '*/*', 'x-mesh-client-id', 'spiffe://mesh.local/service/web']);
  assert.deepEqual(withClientId(sent, null), ['Host', 'orders', 'accept', '*/*']);
});

test('inbound metrics: callers by identity, plaintext as unauthenticated, handshake reasons bounded', async () => {
  const m = new InboundMetrics('orders');
  m.caller('web').allowed += 2;
  m.caller(null).denied += 1;
  m.handshakeFailure('CERT_HAS_EXPIRED');
  m.handshakeFailure('some free text from OpenSSL');
  const text = await m.registry.metrics();
  assert.match(text, /^mesh_inbound_requests_total\{service="orders",caller="web",auth="mtls",decision="allow"\} 2$/m);
  assert.match(text, /^mesh_inbound_requests_total\{service="orders",caller="unauthenticated",auth="none",decision="deny"\} 1$/m);
  assert.match(text, /^mesh_inbound_tls_handshake_failures_total\{service="orders",reason="CERT_HAS_EXPIRED"\} 1$/m);
  assert.match(text, /reason="OTHER"\} 1$/m);
});

test('TLS callers: x-forwarded-proto becomes https, every copy replaced (the caller\'s proxy said http)', () => {
  const h = ['host', 'orders', 'X-Forwarded-Proto', 'http', 'accept', '*/*', 'x-forwarded-proto', 'http'];
  markHttps(h);
  assert.deepEqual(h, ['host', 'orders', 'X-Forwarded-Proto', 'https', 'accept', '*/*']);
  const none = ['host', 'orders'];
  markHttps(none);
  assert.deepEqual(none, ['host', 'orders', 'x-forwarded-proto', 'https']);
});

test('outbound TLS failures are told apart from other connection errors', () => {
  const withCode = (code: string, cause?: Error) => Object.assign(new Error(code), { code, ...(cause ? { cause } : {}) });
  for (const code of ['ERR_MESH_PEER_IDENTITY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
    assert.equal(isTlsHandshakeFailure(withCode(code)), true, code);
  }
  assert.equal(isTlsHandshakeFailure(withCode('UND_ERR_SOCKET', withCode('ERR_MESH_PEER_IDENTITY'))), true);
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_HEADERS_TIMEOUT']) assert.equal(isTlsHandshakeFailure(withCode(code)), false, code);
});

test('a refused server certificate is found through causes and told from alerts and network errors', () => {
  const withCode = (code: string, cause?: Error) => Object.assign(new Error(code), { code, ...(cause ? { cause } : {}) });
  const identity = Object.assign(withCode('ERR_MESH_PEER_IDENTITY'), { reason: 'it is a CA certificate (basicConstraints CA:TRUE), not an end-entity certificate' });
  assert.equal(refusedServerCertificate(withCode('ERR_HTTP2_STREAM_CANCEL', withCode('ERR_HTTP2_ERROR', identity))), identity);
  assert.equal(refusedServerCertificate(withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  // An alert means the server refused *our* certificate; a reset is the network: neither is upstream-identity.
  for (const code of ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ECONNRESET', 'UND_ERR_SOCKET']) assert.equal(refusedServerCertificate(withCode(code)), undefined, code);
  assert.equal(refusedIdentityMessage('orders', '10.0.0.5:8080', 15443, identity, 2),
    'service "orders": refused the certificate of 10.0.0.5:15443, the mesh TLS port of endpoint 10.0.0.5:8080 (it is a CA certificate (basicConstraints CA:TRUE), not an end-entity certificate) after 2 tries');
  assert.equal(refusedIdentityMessage('orders', '[::1]:8080', 15443, withCode('CERT_HAS_EXPIRED'), 1),
    'service "orders": refused the certificate of [::1]:15443, the mesh TLS port of endpoint [::1]:8080 (CERT_HAS_EXPIRED: CERT_HAS_EXPIRED) after 1 try');
});
