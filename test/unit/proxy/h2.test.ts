// HTTP/2 pure pieces: the preface sniff's verdicts, gRPC message encoding, and the header rules for h2
// requests (forwarded) and responses (relayed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRPC_STATUS, grpcMessage } from '../../../src/proxy/h2/errors.js';
import { filterH2Headers, forwardedHeaders } from '../../../src/proxy/h2/headers.js';
import { classifyPreface, H2_PREFACE } from '../../../src/proxy/h2/sniff.js';

test('classifyPreface: the full preface is h2, a prefix waits, the first differing byte is HTTP/1.1', () => {
  const cases: Array<[string | Buffer, string]> = [
    [H2_PREFACE, 'h2'],
    [Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])]), 'h2'],
    ['P', 'more'],
    ['PRI * HTTP/2.0\r\n', 'more'],
    ['POST / HTTP/1.1\r\n', 'http1'],
    ['PUT / HTTP/1.1\r\n', 'http1'],
    ['PATCH / HTTP/1.1\r\n', 'http1'],
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['PRI * HTTP/1.1\r\n', 'http1'],
    ['\x16\x03\x01', 'http1'],
  ];
  for (const [input, verdict] of cases) {
    assert.equal(classifyPreface(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1')), verdict, JSON.stringify(String(input)));
  }
});

test('grpcMessage percent-encodes non-printable bytes and "%" only', () => {
  assert.equal(grpcMessage('no service named "x" is registered'), 'no service named "x" is registered');
  assert.equal(grpcMessage('100% down'), '100%25 down');
  assert.equal(grpcMessage('line\nbreak é'), 'line%0Abreak %C3%A9');
});

test('every mesh error cause has a gRPC status; timeouts are DEADLINE_EXCEEDED, unavailability UNAVAILABLE', () => {
  assert.equal(GRPC_STATUS['upstream-timeout'], 4);
  assert.equal(GRPC_STATUS['no-such-service'], 14);
  assert.equal(GRPC_STATUS['no-healthy-endpoint'], 14);
  assert.equal(GRPC_STATUS['protocol-unsupported'], 12);
});

test('forwardedHeaders drops pseudo and connection-specific headers, keeps te: trailers, appends X-Forwarded-*', () => {
  const out = forwardedHeaders({
    ':method': 'POST', ':path': '/x', ':authority': 'orders', ':scheme': 'http',
    'content-type': 'application/grpc', te: 'trailers', connection: 'close', 'keep-alive': '5', 'x-forwarded-for': '10.0.0.1',
    'x-custom': 'v', 'set-cookie': ['a=1', 'b=2'],
  }, '127.0.0.1', 'orders', undefined);
  assert.deepEqual(out, [
    'content-type', 'application/grpc', 'te', 'trailers', 'x-custom', 'v', 'set-cookie', 'a=1', 'set-cookie', 'b=2',
    'x-forwarded-for', '10.0.0.1, 127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders',
  ]);
  const noTe = forwardedHeaders({ te: 'gzip', 'x-forwarded-proto': 'https' }, undefined, 'a', undefined);
  assert.deepEqual(noTe, ['x-forwarded-proto', 'https', 'x-forwarded-for', 'unknown', 'x-forwarded-host', 'a']);
});

test('filterH2Headers keeps :status on responses only and drops connection-specific headers', () => {
  const h = { ':status': 200, 'content-type': 'application/grpc', connection: 'keep-alive', 'transfer-encoding': 'chunked', 'grpc-status': '0' } as unknown as Parameters<typeof filterH2Headers>[0];
  assert.deepEqual(filterH2Headers(h, true), { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' });
  assert.deepEqual(filterH2Headers(h, false), { 'content-type': 'application/grpc', 'grpc-status': '0' });
});

test('forwardedHeaders drops and counts names with an underscore unless allowed', () => {
  let dropped = 0;
  const counter = { underscoreHeadersDropped: (n: number) => { dropped += n; } };
  const out = forwardedHeaders({ ':path': '/', x_user: 'admin', 'x-user': 'alice' }, '127.0.0.1', 'orders', counter);
  assert.deepEqual(out, ['x-user', 'alice', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'orders']);
  assert.equal(dropped, 1);
  assert.ok(forwardedHeaders({ x_user: 'admin' }, '127.0.0.1', 'orders', undefined).includes('x_user'));
});
