// Tries to break the real registry daemon: hostile bodies and paths (each refused with a 4xx JSON error and the
// store unchanged), PUT/DELETE races on one id checked against a kill -9 restart, a watcher that never reads
// while thousands of changes are made, and hundreds of watchers opening and closing. After each attack the
// daemon must still be alive and serve a normal registration; at the end it must exit 0 on SIGTERM.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { seededRandom } from '../../src/core/clock.js';
import type { Instance } from '../../src/core/types.js';
import { eventually } from '../helpers/mesh.js';
import { recordWatch, startRegistry, type TestRegistry } from '../helpers/registry.js';

interface Reply { status: number; body: string; json: any }

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

function call(base: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: Number(u.port), method, path: path, headers: { 'content-type': 'application/json', ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode!, body: text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Everything the store holds, as comparable text. */
async function everything(reg: TestRegistry): Promise<string> {
  const list = await call(reg.url, 'GET', '/v1/services');
  const out: Instance[] = [];
  for (const s of list.json.services as { service: string }[]) out.push(...(await call(reg.url, 'GET', `/v1/services/${s.service}`)).json.instances);
  return JSON.stringify(out.map(({ lastHeartbeat: _h, health: _s, healthOutput: _o, ...rest }) => rest));
}

/** Opens GET /v1/watch on a raw socket; the caller decides whether it ever reads. */
function rawWatch(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET /v1/watch HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
      resolve(s);
    });
    s.on('error', reject);
  });
}

test('the registry survives hostile input, races and slow watchers', { timeout: 58_000 }, async (t) => {
  const reg = await startRegistry(t);
  const pid = reg.daemon.child.pid!;
  let normal = 0;
  const healthy = async (what: string) => {
    assert.equal(reg.daemon.child.exitCode, null, `the registry died after: ${what}`);
    const r = await call(reg.url, 'PUT', `/v1/services/ok/instances/ok-${normal}`, JSON.stringify({ address: `127.0.0.1:${20_000 + normal}` }));
    normal++;
    assert.equal(r.status, 200, `a normal registration failed after: ${what}: ${r.body}`);
    assert.doesNotMatch(reg.daemon.stderr(), /^\s+at |uncaught|unhandled|internal error/im, `the registry logged a crash after: ${what}`);
  };
  await healthy('start');

  await t.test('hostile bodies and paths → 4xx JSON, store unchanged', async () => {
    const before = await everything(reg);
    const deepArray = '['.repeat(10_000) + ']'.repeat(10_000);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const tags = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const good = JSON.stringify({ address: '127.0.0.1:9000' });
    const cases: [string, string, string, Buffer | string, number, string][] = [
      ['JSON array nested 10,000 deep', 'PUT', '/v1/services/web/instances/w1', deepArray, 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['JSON object nested 10,000 deep', 'PUT', '/v1/services/web/instances/w1', deepObject, 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['1 MiB + 1 body', 'PUT', '/v1/services/web/instances/w1', Buffer.alloc(1024 * 1024 + 1, 32), 413, 'MESH_ERR_BODY_TOO_LARGE'],
      ['invalid UTF-8', 'PUT', '/v1/services/web/instances/w1', Buffer.concat([Buffer.from('{"address":"127.0.0.1:9000","zone":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 400, 'MESH_ERR_INVALID_JSON'],
      ['a JSON array', 'PUT', '/v1/services/web/instances/w1', '[]', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['JSON null', 'PUT', '/v1/services/web/instances/w1', 'null', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a JSON number', 'PUT', '/v1/services/web/instances/w1', '42', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a JSON string', 'PUT', '/v1/services/web/instances/w1', '"x"', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['65 tags', 'PUT', '/v1/services/web/instances/w1', JSON.stringify({ address: '127.0.0.1:9000', tags }), 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['an id of ../x (encoded)', 'PUT', '/v1/services/web/instances/..%2Fx', good, 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['an id with %2F', 'PUT', '/v1/services/web/instances/a%2Fb', good, 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['an id of ../x in the body', 'PUT', '/v1/services/web/instances/w1', JSON.stringify({ address: '127.0.0.1:9000', id: '../x' }), 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a malformed escape in the id', 'PUT', '/v1/services/web/instances/%E0%A4%A', good, 400, 'MESH_ERR_BAD_REQUEST'],
      ['a service name of 64 characters', 'PUT', `/v1/services/${'a'.repeat(64)}/instances/w1`, good, 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a literal ../ in the path', 'PUT', '/v1/services/web/instances/../x', good, 404, 'MESH_ERR_NOT_FOUND'],
      ['DELETE of ../x', 'DELETE', '/v1/services/web/instances/..%2F..%2Fx', '', 404, 'MESH_ERR_NOT_FOUND'],
      ['a watch from a non-numeric index', 'GET', '/v1/watch?index=-1', '', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a watch of an invalid service', 'GET', '/v1/watch?service=..%2Fx', '', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a heartbeat with a JSON array', 'PUT', '/v1/services/ok/instances/ok-0/heartbeat', '[1]', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['a heartbeat with an unknown status', 'PUT', '/v1/services/ok/instances/ok-0/heartbeat', '{"status":"dead"}', 400, 'MESH_ERR_INVALID_ARGUMENT'],
      ['an unknown method', 'PATCH', '/v1/services/web/instances/w1', good, 405, 'MESH_ERR_METHOD_NOT_ALLOWED'],
    ];
    for (const [what, method, path, body, status, code] of cases) {
      const r = await call(reg.url, method, path, body);
      assert.equal(r.status, status, `${what}: ${r.body.slice(0, 300)}`);
      assert.equal(r.json?.error?.code, code, `${what}: ${r.body.slice(0, 300)}`);
      assert.ok(String(r.json.error.message).length > 0 && String(r.json.error.message).length < 500, `${what}: the message is not one short line`);
    }
    // The same 1 MiB + 1 streamed chunked, with no Content-Length to refuse it up front.
    const chunked = await call(reg.url, 'PUT', '/v1/services/web/instances/w1', Buffer.alloc(1024 * 1024 + 1, 32), { 'transfer-encoding': 'chunked' });
    assert.equal(chunked.status, 413);
    assert.equal(await everything(reg), before, 'a refused request changed the store');
    // 63 characters is the limit, and allowed.
    const longest = await call(reg.url, 'PUT', `/v1/services/${'a'.repeat(63)}/instances/w1`, good);
    assert.equal(longest.status, 200, longest.body);
    await healthy('hostile bodies and paths');
  });

  await t.test('garbage bytes on raw connections → JSON 400, connection closed', async () => {
    const random = seededRandom(99);
    const u = new URL(reg.url);
    for (let round = 0; round < 5; round++) {
      const bytes = Buffer.alloc(4096);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      const reply = await new Promise<string>((resolve) => {
        const s = connect(Number(u.port), u.hostname, () => s.write(bytes));
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => { s.destroy(); resolve('(still open after 5 s)'); }, 5_000);
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', () => {});
        s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')); });
      });
      assert.match(reply, /^HTTP\/1\.1 400 /, reply.slice(0, 200));
      assert.match(reply, /"code":"MESH_ERR_BAD_REQUEST"/);
    }
    await healthy('garbage bytes');
  });

  await t.test('200 racing PUT/DELETE on one id: the state after kill -9 is the last acknowledged one', async () => {
    const random = seededRandom(7);
    const ops = Array.from({ length: 200 }, (_, i) => (random() < 0.6 ? { kind: 'put' as const, weight: i + 1 } : { kind: 'delete' as const, weight: 0 }));
    const acked: { kind: 'put' | 'delete'; weight: number; modifyIndex: number }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ops.length) {
        const op = ops[next++]!;
        if (op.kind === 'put') {
          const r = await call(reg.url, 'PUT', '/v1/services/race/instances/r1', JSON.stringify({ address: '127.0.0.1:9100', weight: op.weight }));
          assert.equal(r.status, 200, r.body);
          assert.equal(r.json.instance.weight, op.weight);
          acked.push({ ...op, modifyIndex: r.json.instance.modifyIndex });
        } else {
          const r = await call(reg.url, 'DELETE', '/v1/services/race/instances/r1');
          assert.ok(r.status === 200 || r.status === 404, r.body);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const after = await call(reg.url, 'GET', '/v1/services/race');
    const lastPut = acked.reduce((a, b) => (b.modifyIndex > a.modifyIndex ? b : a));
    if (after.status === 200) {
      // Present: it must be exactly the latest acknowledged PUT (a DELETE after it would have removed it).
      assert.equal(after.json.instances.length, 1);
      assert.equal(after.json.instances[0].modifyIndex, lastPut.modifyIndex);
      assert.equal(after.json.instances[0].weight, lastPut.weight);
    } else {
      assert.equal(after.status, 404);
    }
    const state = await everything(reg);
    reg.daemon.child.kill('SIGKILL');
    await reg.daemon.exited;
    const again = await startRegistry(t, { dataDir: reg.dataDir });
    assert.equal(await everything(again), state, 'the state after kill -9 and restart differs from the acknowledged one');
    Object.assign(reg, { url: again.url, daemon: again.daemon, client: again.client });
    await healthy('PUT/DELETE race and kill -9');
  });

  await t.test('a watcher that never reads while 5,000 changes are made is dropped; others are not', async () => {
    const fast = await recordWatch(t, reg.client, ['slow']);
    const slow = await rawWatch(reg.url);
    t.after(() => slow.destroy());
    let slowClosed = false;
    slow.on('close', () => { slowClosed = true; });
    await new Promise<void>((r) => slow.once('data', () => r()));
    slow.pause(); // reads nothing more: the kernel buffers fill, then the daemon's
    await eventually(async () => (await call(reg.url, 'GET', '/v1/status')).json.watchers === 2, 5_000);
    const rssBefore = rssMiB(reg.daemon.child.pid!);
    // ~4 KB per event: 5,000 of them are ~20 MB more than any socket buffer holds.
    const tags = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`tag${i}`, 'x'.repeat(60)]));
    let n = 0;
    const writer = async () => {
      while (n < 5_000) {
        const i = n++;
        const r = await call(reg.url, 'PUT', `/v1/services/slow/instances/s${i % 50}`, JSON.stringify({ address: '127.0.0.1:9200', weight: (i % 1000) + 1, tags }));
        assert.equal(r.status, 200, r.body);
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    const rssAfter = rssMiB(reg.daemon.child.pid!);
    t.diagnostic(`registry RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB over 5,000 changes with a paused watcher`);
    // The daemon gave up on the paused watcher instead of queueing for it without bound...
    await eventually(async () => (await call(reg.url, 'GET', '/v1/status')).json.watchers === 1, 5_000);
    slow.resume();
    await eventually(() => slowClosed, 5_000);
    assert.match(reg.daemon.stderr(), /dropped a watch stream/);
    // ...while the watcher that reads saw the last change.
    const last = await call(reg.url, 'PUT', '/v1/services/slow/instances/last', JSON.stringify({ address: '127.0.0.1:9201' }));
    assert.equal(last.status, 200);
    await fast.next((e) => e.type === 'upsert' && e.instance.id === 'last', 10_000);
    assert.equal(fast.events.filter((e) => e.event.type === 'upsert').length, 5_001, 'the reading watcher missed changes');
    assert.ok(rssAfter < 400, `registry RSS reached ${rssAfter.toFixed(0)} MiB`);
    fast.close();
    await healthy('a paused watcher');
  });

  await t.test('200 watchers opening and closing rapidly', async () => {
    for (let batch = 0; batch < 4; batch++) {
      const socks = await Promise.all(Array.from({ length: 50 }, () => rawWatch(reg.url)));
      // Half leave at once, half after their first event.
      await Promise.all(socks.map((s, i) => (i % 2 === 0 ? (s.destroy(), undefined) : new Promise<void>((r) => s.once('data', () => { s.destroy(); r(); })))));
    }
    await eventually(async () => (await call(reg.url, 'GET', '/v1/status')).json.watchers === 0, 5_000);
    await healthy('200 watchers churning');
  });

  await t.test('SIGTERM → exit 0', async () => {
    agent.destroy();
    const exit = await reg.daemon.stop('SIGTERM', 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, reg.daemon.stderr());
    assert.ok(pid > 0);
  });
});
