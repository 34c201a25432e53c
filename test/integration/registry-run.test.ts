// `mesh run` with a real child HTTP server: registered once its port accepts connections, deregistered when it
// exits (normally, via a forwarded SIGTERM, or killed with kill -9), and mesh exits with the child's code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, runMesh, startMesh, tempDir } from '../helpers/mesh.js';
import { recordWatch, startRegistry } from '../helpers/registry.js';

const CHILD = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  if (req.url === '/exit') { res.end('bye'); setTimeout(() => process.exit(3), 10); return; }
  res.end('hello from ' + process.env.PORT);
});
process.on('SIGTERM', () => { console.log('child got SIGTERM'); server.close(); process.exit(0); });
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('child pid ' + process.pid + ' on ' + process.env.PORT));
`;

function childScript(t: { after(fn: () => void): void }): string {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'child.mjs');
  writeFileSync(file, CHILD);
  return file;
}

test('mesh run registers the child and deregisters it when it exits, with its exit code', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['app']);
  const run = startMesh(['run', 'app', '--tag', 'version=v1', '--registry', reg.url, '--', process.execPath, childScript(t)]);
  t.after(async () => { await run.stop('SIGKILL'); });
  const [, pid, port] = await run.waitFor(/child pid (\d+) on (\d+)/);
  await run.waitFor(/registered app\//);
  const up = await log.next((e) => e.type === 'upsert' && e.instance.service === 'app');
  const inst = up.event.type === 'upsert' ? up.event.instance : undefined;
  assert.equal(inst?.address, `127.0.0.1:${port}`);
  assert.equal(inst?.tags.version, 'v1');
  assert.equal(inst?.health, 'passing');
  assert.ok(inst?.check?.ttlMs, 'a TTL instance that mesh run heartbeats');
  assert.ok(Number(pid) > 0);
  const hello = await request(`http://127.0.0.1:${port}/`);
  assert.equal(await hello.body.text(), `hello from ${port}`);
  await (await request(`http://127.0.0.1:${port}/exit`)).body.text();
  const exit = await run.exited;
  assert.deepEqual(exit, { code: 3, signal: null });
  await log.next((e) => e.type === 'remove' && e.service === 'app');
  assert.deepEqual((await reg.client.services()).services, []);
});

test('mesh run forwards SIGTERM to the child and deregisters', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['app']);
  const run = startMesh(['run', 'app', '--registry', reg.url, '--', process.execPath, childScript(t)]);
  t.after(async () => { await run.stop('SIGKILL'); });
  await run.waitFor(/registered app\//);
  const exit = await run.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(run.stdout(), /child got SIGTERM/);
  await log.next((e) => e.type === 'remove' && e.service === 'app');
});

test('a child killed with kill -9 is deregistered, and mesh exits 137', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['app']);
  const port = await freePort();
  const run = startMesh(['run', 'app', '--port', String(port), '--registry', reg.url, '--', process.execPath, childScript(t)]);
  t.after(async () => { await run.stop('SIGKILL'); });
  const [, pid, childPort] = await run.waitFor(/child pid (\d+) on (\d+)/);
  assert.equal(Number(childPort), port, 'the child gets --port as PORT');
  await run.waitFor(/registered app\//);
  process.kill(Number(pid), 'SIGKILL');
  const exit = await run.exited;
  assert.deepEqual(exit, { code: 137, signal: null });
  const removed = await log.next((e) => e.type === 'remove' && e.service === 'app');
  assert.equal(removed.event.type === 'remove' && removed.event.reason, 'deregistered');
});

test('mesh run bad input and a command that cannot start', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const missing = await runMesh(['run', 'app', '--registry', reg.url]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'command'/);
  const both = await runMesh(['run', 'app', '--port', '8080', '--address', '127.0.0.1:8080', '--registry', reg.url, '--', 'true']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--port and --address cannot be combined/);
  const nope = await runMesh(['run', 'app', '--registry', reg.url, '--', '/nonexistent/command']);
  assert.equal(nope.code, 1);
  assert.equal(nope.stderr.trim().split('\n').length, 1, nope.stderr);
  assert.match(nope.stderr, /cannot start "\/nonexistent\/command": command not found/);
  assert.deepEqual((await reg.client.services()).services, []);
});
