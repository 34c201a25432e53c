// A second SIGTERM while the registry drains an in-flight request must not kill it mid-drain: it logs that it is
// already shutting down, finishes the drain and exits 0, releasing its LOCK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';

test('a second SIGTERM during the drain is logged and the daemon still exits 0', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const { port } = new URL(reg.url);
  // An upload that stays in flight: headers and half of the promised body.
  const socket = connect(Number(port), '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write('PUT /v1/services/slow/instances/s1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"address":');
  await new Promise((r) => setTimeout(r, 100));
  reg.daemon.child.kill('SIGTERM');
  await reg.daemon.waitFor(/shutting down/);
  reg.daemon.child.kill('SIGTERM');
  await reg.daemon.waitFor(/again; already shutting down/);
  const exit = await reg.daemon.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(existsSync(join(reg.dataDir, 'LOCK')), false, 'the LOCK is released');
});
