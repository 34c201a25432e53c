// HTTP plumbing through a real proxy: 256 MiB streamed each way with the proxy's RSS staying flat, a
// WebSocket echo through an Upgrade, a chunked upload with Expect: 100-continue, and a SIGTERM drain.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { eventually } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { getJson, register, startBackend, startProxy, viaProxy } from '../helpers/proxy.js';
import type { RoutesSnapshot } from '../../src/core/admin-types.js';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Streams `total` bytes to `path` through the proxy (chunked), or reads `total` bytes back; resolves with what came back. */
function stream(port: number, method: string, path: string, upload: number, opts: { expectContinue?: boolean } = {}): Promise<{ status: number; bytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: `http://bulk${path}`, headers: opts.expectContinue ? { expect: '100-continue' } : {} }, (res) => {
      let bytes = 0;
      let head = '';
      res.on('data', (c: Buffer) => { bytes += c.length; if (head.length < 200) head += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, bytes, body: head }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (upload === 0) { req.end(); return; }
    const chunk = Buffer.alloc(256 * 1024, 98);
    let left = upload;
    const body = new Readable({
      read() {
        if (left <= 0) { this.push(null); return; }
        left -= chunk.length;
        this.push(chunk);
      },
    });
    const go = () => body.pipe(req);
    if (opts.expectContinue) req.on('continue', go); else go();
  });
}

test('bodies stream both ways with flat RSS; WebSocket; 100-continue; SIGTERM drain', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const b = await startBackend(t, 'bulk-1');
  await register(reg.url, 'bulk', b);
  const proxy = await startProxy(t, reg.url, ['--drain-timeout', '4s']);
  const pid = proxy.daemon.child.pid!;

  await t.test('256 MiB up, 256 MiB down and 128 MiB through /echo, without the proxy buffering', async () => {
    // A first transfer settles the heap and buffer pools at their working size; after that, RSS must not grow
    // with the bytes moved (a buffering proxy grows by at least one body, 64 MiB).
    const warm = await stream(proxy.port, 'GET', `/bytes?n=${64 * MiB}`, 0);
    assert.equal(warm.bytes, 64 * MiB);
    const before = rssMiB(pid);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 20);
    try {
      const up = await stream(proxy.port, 'POST', '/sink', 256 * MiB);
      assert.equal(up.status, 200);
      assert.equal(JSON.parse(up.body).bytes, 256 * MiB);
      const down = await stream(proxy.port, 'GET', `/bytes?n=${256 * MiB}`, 0);
      assert.equal(down.bytes, 256 * MiB);
      const echo = await stream(proxy.port, 'PUT', '/echo', 128 * MiB);
      assert.equal(echo.bytes, 128 * MiB);
    } finally {
      clearInterval(sampler);
    }
    // 640 MiB moved, 256 MiB of it in one body: buffering any one body whole would add at least 128 MiB. What
    // remains is garbage awaiting collection, which does not grow with the transfer.
    assert.ok(peak - before < 64, `proxy RSS grew from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB`);
    assert.ok(peak < 150, `proxy RSS peaked at ${peak.toFixed(0)} MiB`);
  });

  await t.test('Expect: 100-continue with a chunked upload', async () => {
    const r = await stream(proxy.port, 'POST', '/sink', 1 * MiB, { expectContinue: true });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).bytes, 1 * MiB);
  });

  await t.test('a WebSocket echo passes through the Upgrade', async () => {
    const s = connect(proxy.port, '127.0.0.1');
    t.after(() => s.destroy());
    const key = randomBytes(16).toString('base64');
    s.write(`GET /chat HTTP/1.1\r\nHost: bulk.mesh\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let buf = Buffer.alloc(0);
    const until = (pred: () => boolean) => new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => { buf = Buffer.concat([buf, d]); if (pred()) { s.off('data', onData); resolve(); } };
      s.on('data', onData);
      s.once('error', reject);
    });
    await until(() => buf.includes('\r\n\r\n'));
    const headEnd = buf.indexOf('\r\n\r\n') + 4;
    assert.match(buf.subarray(0, headEnd).toString(), /^HTTP\/1\.1 101/);
    buf = buf.subarray(headEnd);
    const payload = Buffer.from('hello mesh');
    const mask = randomBytes(4);
    s.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((x, i) => x ^ mask[i % 4]!))]));
    await until(() => buf.length >= 2 && buf.length >= 2 + buf[1]!);
    assert.equal(buf[0], 0x81);
    assert.equal(buf.subarray(2, 2 + buf[1]!).toString(), 'bulk-1:hello mesh');
  });

  await t.test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const slow = viaProxy(proxy.port, 'bulk', '/slow?ms=1500');
    await eventually(async () => (await getJson<RoutesSnapshot>(`${proxy.admin}/routes`)).services.some((s) => s.inFlight > 0), 5_000);
    proxy.daemon.child.kill('SIGTERM');
    await proxy.daemon.waitFor(/draining/);
    const r = await slow;
    assert.equal(r.status, 200);
    const exit = await proxy.daemon.exited;
    assert.equal(exit.code, 0, proxy.daemon.stderr());
    assert.match(proxy.daemon.stderr(), /stopped/);
  });
});
