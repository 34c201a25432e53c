// Health through the real daemon: a TTL instance that stops heartbeating turns critical and is removed; an HTTP
// check against a real server that starts failing turns the instance critical; --keep-alive keeps a TTL
// instance passing and deregisters it on SIGTERM. Every change is observed through a real watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually, runMesh, startMesh } from '../helpers/mesh.js';
import { recordWatch, startRegistry } from '../helpers/registry.js';

test('a TTL instance that stops heartbeating turns critical, then is removed', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['ttl']);
  const res = await runMesh(['register', 'ttl', '--address', '127.0.0.1:7001', '--id', 't1', '--ttl', '300ms', '--deregister-after', '500ms', '--registry', reg.url]);
  assert.equal(res.code, 0, res.stderr);
  const critical = await log.next((e) => e.type === 'upsert' && e.instance.id === 't1' && e.instance.health === 'critical');
  const removed = await log.next((e) => e.type === 'remove' && e.id === 't1');
  assert.ok(removed.event.index > critical.event.index);
  const crit = critical.event.type === 'upsert' ? critical.event.instance : undefined;
  assert.match(crit?.healthOutput ?? '', /ttl|heartbeat/i);
  t.diagnostic(`critical → removed after ${Math.round(removed.at - critical.at)} ms (deregister-after 500ms)`);
  const list = await runMesh(['services', '--json', '--registry', reg.url]);
  assert.deepEqual(JSON.parse(list.stdout).services, []);
});

test('an HTTP check against a server that starts failing turns the instance critical', { timeout: 30_000 }, async (t) => {
  let status = 200;
  const backend = createServer((_req, res) => { res.statusCode = status; res.end(status === 200 ? 'ok' : 'broken'); });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { backend.closeAllConnections(); backend.close(() => r()); }));
  const port = (backend.address() as AddressInfo).port;
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['web']);
  const res = await runMesh(['register', 'web', '--address', `127.0.0.1:${port}`, '--id', 'w1',
    '--check-http', `http://127.0.0.1:${port}/healthz`, '--interval', '200ms', '--timeout', '200ms', '--deregister-after', '1m', '--registry', reg.url]);
  assert.equal(res.code, 0, res.stderr);
  await log.next((e) => e.type === 'upsert' && e.instance.health === 'passing');
  status = 500;
  // On a loaded machine a check can also time out (critical for another reason); wait for the 500 verdict.
  const critical = await log.next((e) => e.type === 'upsert' && e.instance.health === 'critical' && /500/.test(e.instance.healthOutput ?? ''));
  assert.match((critical.event.type === 'upsert' && critical.event.instance.healthOutput) || '', /500/);
  const table = await runMesh(['services', 'web', '--registry', reg.url]);
  assert.match(table.stdout, /\nw1\s+127\.0\.0\.1:\d+\s+100\s+0\s+-\s+-\s+critical/);
  status = 200;
  await log.next((e) => e.type === 'upsert' && e.instance.health === 'passing' && e.index > critical.event.index);
});

test('register --keep-alive heartbeats a TTL instance and deregisters it on SIGTERM', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['keeper']);
  const keeper = startMesh(['register', 'keeper', '--address', '127.0.0.1:7002', '--id', 'k1', '--ttl', '300ms', '--deregister-after', '500ms', '--keep-alive', '--registry', reg.url]);
  t.after(async () => { await keeper.stop('SIGKILL'); });
  await keeper.waitFor(/heartbeating every 100ms/);
  const first = await reg.client.service('keeper');
  const t0 = first.instances[0]!.lastHeartbeat!;
  // Several TTLs pass: the heartbeats keep it passing (a lapse would show as a critical upsert in the watch).
  await eventually(async () => ((await reg.client.service('keeper')).instances[0]!.lastHeartbeat ?? 0) > t0 + 900, 10_000);
  assert.deepEqual(log.events.filter((e) => e.event.type === 'upsert' && e.event.instance.health !== 'passing'), []);
  const exit = await keeper.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  const removed = await log.next((e) => e.type === 'remove' && e.id === 'k1');
  assert.equal(removed.event.type === 'remove' && removed.event.reason, 'deregistered');
  assert.match(keeper.stderr(), /SIGTERM: deregistered keeper\/k1/);
});
