// HTTP/2 cleartext and gRPC through a real proxy (bin/mesh) on the same port as HTTP/1.1: a real gRPC
// client and server (@grpc/grpc-js) with the client's :authority naming the service, plain h2c with
// node:http2 and curl (bodies and trailers), HTTP/1.1 unharmed by the sniff, a backend killed with SIGKILL
// in the middle of a series of unary calls, resets both ways, timeouts as DEADLINE_EXCEEDED and SIGTERM drain.
// h2 and gRPC across the mesh's mTLS hop are in mtls-h2.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:http2';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ordersClient } from '../helpers/grpc-orders.js';
import { h2Request, h2Session, startH2Backend } from '../helpers/h2-backend.js';
import { writeFileSync } from 'node:fs';
import { eventually, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { getJson, instanceOf, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';

test('gRPC through the proxy: unary round robin, server streaming, error statuses, unknown service', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startH2Backend(t, 'g-a');
  const b = await startH2Backend(t, 'g-b');
  await register(reg.url, 'orders', { name: 'g-a', address: a.grpc });
  await register(reg.url, 'orders', { name: 'g-b', address: b.grpc });
  const proxy = await startProxy(t, reg.url);
  const orders = ordersClient(`127.0.0.1:${proxy.port}`, 'orders');
  t.after(() => orders.close());

  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    const reply = JSON.parse((await orders.get(`order-${i}`)).toString()) as { instance: string; got: string; authority: string };
    assert.equal(reply.got, `order-${i}`);
    seen.push(reply.instance);
  }
  // Round robin: the two instances alternate.
  assert.deepEqual(new Set(seen), new Set(['g-a', 'g-b']));
  for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `round robin broken: ${seen.join(',')}`);

  const streamed = await orders.list(200);
  assert.equal(streamed.length, 200);
  const from = streamed[0]!.split(':')[0]!;
  assert.deepEqual(streamed, Array.from({ length: 200 }, (_, i) => `${from}:${i}`));

  await assert.rejects(orders.fail('42'), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no order 42');
    return true;
  });

  const nowhere = ordersClient(`127.0.0.1:${proxy.port}`, 'nowhere');
  t.after(() => nowhere.close());
  await assert.rejects(nowhere.get('x'), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /no service named "nowhere"/);
    assert.deepEqual(err.metadata.get('x-mesh-error'), ['no-such-service']);
    return true;
  });
});

test('plain h2c: GET and POST echo with trailers, mesh errors as JSON; HTTP/1.1 on the same port still works', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startH2Backend(t, 'h-a');
  const web = await startBackend(t, 'web-1');
  await register(reg.url, 'h2echo', { name: 'h-a', address: a.h2 });
  await register(reg.url, 'web', web);
  const proxy = await startProxy(t, reg.url, ['--access-log', '-']);
  const session = h2Session(t, proxy.port);

  const got = await h2Request(session, 'h2echo.mesh', '/hello?x=1', { headers: { 'x-custom': 'kept' } });
  assert.equal(got.status, 200);
  assert.equal(got.headers['x-instance'], 'h-a');
  const info = JSON.parse(got.body.toString()) as { method: string; path: string; authority: string; headers: Record<string, string> };
  assert.equal(info.method, 'GET');
  assert.equal(info.path, '/hello?x=1');
  assert.equal(info.authority, 'h2echo.mesh');
  assert.equal(info.headers['x-custom'], 'kept');
  assert.equal(info.headers['x-forwarded-proto'], 'http');
  assert.match(info.headers['traceparent'] ?? '', /^00-/);
  assert.equal(got.trailers?.['x-done'], 'yes');

  const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'm');
  const echoed = await h2Request(session, 'h2echo', '/echo', { method: 'POST', body });
  assert.equal(echoed.status, 200);
  assert.equal(echoed.body.length, body.length);
  assert.ok(echoed.body.equals(body));
  assert.equal(echoed.trailers?.['x-echo-bytes'], String(body.length));
  const logged = JSON.parse((await proxy.daemon.waitFor(/^\{.*"path":"\/echo".*\}$/m))[0]) as Record<string, unknown>;
  assert.deepEqual([logged.method, logged.status, logged.upstream, logged.bytes_in, logged.bytes_out], ['POST', 200, a.h2, body.length, body.length]);

  const unknown = await h2Request(session, 'nowhere', '/');
  assert.equal(unknown.status, 503);
  assert.equal(unknown.headers['x-mesh-error'], 'no-such-service');
  assert.equal((JSON.parse(unknown.body.toString()) as { error: { code: string } }).error.code, 'MESH_ERR_NO_SUCH_SERVICE');

  // An HTTP/1.1-only instance cannot take h2c: a clear 502, and no ejection (HTTP/1.1 clients still reach it).
  for (let i = 0; i < 6; i++) {
    const h1only = await h2Request(session, 'web', '/');
    assert.equal(h1only.status, 502);
    assert.equal(h1only.headers['x-mesh-error'], 'protocol-unsupported');
    assert.match(h1only.body.toString(), /does not speak HTTP\/2 cleartext/);
  }

  // The sniff in front of the HTTP/1.1 server: absolute-form and Host requests, keep-alive, a POST body.
  for (const via of ['absolute', 'host'] as const) {
    const r = await viaProxy(proxy.port, 'web', '/echo', { via, method: 'POST', body: 'PRI * not a preface' });
    assert.equal(r.status, 200);
    assert.equal(instanceOf(r), 'web-1');
    assert.equal(r.body, 'PRI * not a preface');
  }
});

test('a gRPC backend killed with SIGKILL during a series of unary calls costs no call', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startH2Backend(t, 'k-a');
  const b = await startH2Backend(t, 'k-b');
  await register(reg.url, 'orders', { name: 'k-a', address: a.grpc });
  await register(reg.url, 'orders', { name: 'k-b', address: b.grpc });
  const proxy = await startProxy(t, reg.url);
  const orders = ordersClient(`127.0.0.1:${proxy.port}`, 'orders');
  t.after(() => orders.close());

  const answered: string[] = [];
  const failures: string[] = [];
  for (let i = 0; i < 80; i++) {
    if (i === 20) await b.kill();
    try {
      answered.push((JSON.parse((await orders.get(`o${i}`)).toString()) as { instance: string }).instance);
    } catch (err) {
      failures.push(`${i}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(answered.slice(0, 20).includes('k-b'), 'k-b took no calls before it was killed');
  assert.ok(answered.slice(20).every((n) => n === 'k-a'), `the killed instance answered: ${answered.slice(20).join(',')}`);
});

test('stream resets pass both ways: a client cancel closes the upstream stream, an upstream reset reaches the client; curl speaks h2c to it', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startH2Backend(t, 'r-a');
  await register(reg.url, 'h2echo', { name: 'r-a', address: a.h2 });
  const proxy = await startProxy(t, reg.url);
  const session = h2Session(t, proxy.port);

  const hang = session.request({ ':path': '/hang', ':authority': 'h2echo' });
  hang.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { hang.once('response', () => resolve()); hang.once('close', () => reject(new Error('closed before headers'))); });
  hang.close(constants.NGHTTP2_CANCEL);
  const direct = h2Session(t, Number(a.h2.split(':')[1]));
  await eventually(async () => {
    const closed = JSON.parse((await h2Request(direct, 'x', '/closed')).body.toString()) as number[];
    return closed.includes(constants.NGHTTP2_CANCEL);
  }, 5_000);

  const reset = session.request({ ':path': '/reset', ':authority': 'h2echo' });
  reset.on('error', () => undefined);
  let got = '';
  reset.on('data', (c: Buffer) => { got += c.toString(); });
  await new Promise<void>((resolve) => reset.once('close', () => resolve()));
  assert.equal(got, 'partial');
  assert.equal(reset.rstCode, constants.NGHTTP2_INTERNAL_ERROR);

  // A real h2c client (curl built with nghttp2) through the same port.
  const out = await new Promise<string>((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--http2-prior-knowledge', '-H', 'Host: h2echo', `http://127.0.0.1:${proxy.port}/from-curl`], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  assert.match(out, /^HTTP\/2 200/);
  assert.match(out, /x-instance: r-a/);
  assert.match(out, /"path":"\/from-curl"/);
});

test('a proxy timeout is DEADLINE_EXCEEDED for gRPC; SIGTERM lets an in-flight h2 stream finish, then exits 0', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startH2Backend(t, 'd-a');
  await register(reg.url, 'orders', { name: 'd-a', address: a.grpc });
  await register(reg.url, 'h2echo', { name: 'd-a', address: a.h2 });
  const dir = tempDir('mesh-h2-');
  t.after(dir.cleanup);
  const config = join(dir.path, 'mesh.yaml');
  writeFileSync(config, 'services:\n  orders:\n    timeout: 300ms\n');
  const proxy = await startProxy(t, reg.url, ['--config', config, '--drain-timeout', '5s']);
  const orders = ordersClient(`127.0.0.1:${proxy.port}`, 'orders');
  t.after(() => orders.close());

  assert.equal((await orders.slow(10)).toString(), '10');
  await assert.rejects(orders.slow(2_000), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(err.metadata.get('x-mesh-error'), ['upstream-timeout']);
    return true;
  });

  const session = h2Session(t, proxy.port);
  const inFlight = h2Request(session, 'h2echo', '/slow');
  // The request is in flight (at the backend, 600 ms to go) when SIGTERM arrives.
  await eventually(async () => (await getJson<RoutesSnapshot>(`${proxy.admin}/routes`)).services.find((x) => x.service === 'h2echo')?.inFlight === 1, 5_000);
  const exited = proxy.daemon.stop('SIGTERM', 10_000);
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'slow');
  assert.deepEqual(await exited, { code: 0, signal: null });
});
