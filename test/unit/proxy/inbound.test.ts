import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withClientId } from '../../../src/proxy/inbound.js';
import { InboundMetrics } from '../../../src/proxy/inbound-metrics.js';

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
