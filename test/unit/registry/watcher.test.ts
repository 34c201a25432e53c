import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchEvent } from '../../../src/core/types.js';
import { Watcher, type RegistryClient } from '../../../src/registry/client.js';

/** A client whose first stream yields the given chunks; later streams hang until the watcher closes them. */
function fakeClient(chunks: Buffer[]): RegistryClient {
  let calls = 0;
  return {
    url: 'http://fake',
    openStream: async (_path: string, signal: AbortSignal) => {
      if (calls++ > 0) await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      return { body: (async function* () { for (const c of chunks) yield c; await new Promise(() => {}); })() };
    },
  } as unknown as RegistryClient;
}

test('Watcher decodes UTF-8 characters split across chunks', { timeout: 5_000 }, async (t) => {
  const event = { type: 'reset', index: 7, instances: [{ service: 'a', id: 'a1', healthOutput: 'größe — ok ✓' }] };
  const bytes = Buffer.from(`id: 7\nevent: reset\ndata: ${JSON.stringify(event)}\n\n`, 'utf8');
  // Cut inside every multi-byte character: each chunk boundary splits one.
  const cuts: number[] = [];
  for (let i = 1; i < bytes.length; i++) if ((bytes[i]! & 0xc0) === 0x80) cuts.push(i);
  assert.ok(cuts.length > 0);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of cuts) { chunks.push(bytes.subarray(from, c)); from = c; }
  chunks.push(bytes.subarray(from));
  const w = new Watcher(fakeClient(chunks), {});
  t.after(() => w.close());
  const got = await new Promise<WatchEvent>((resolve) => w.once('event', resolve));
  assert.equal(got.type === 'reset' && got.instances[0]!.healthOutput, 'größe — ok ✓');
  assert.equal(w.lastIndex, 7);
});

test('Watcher treats a silent stream (no events, no keepalives) as dead and resumes from its last index', { timeout: 10_000 }, async (t) => {
  const { createServer } = await import('node:http');
  const paths: string[] = [];
  // The first stream sends one event and then nothing, holding the connection open like a half-open socket.
  const srv = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (paths.length === 1) res.write(`data: ${JSON.stringify({ type: 'reset', index: 3, instances: [] })}\n\n`);
    else res.write(`data: ${JSON.stringify({ type: 'upsert', index: 4, instance: { service: 'a', id: 'a1' } })}\n\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { RegistryClient: Client } = await import('../../../src/registry/client.js');
  const client = new Client({ url: `http://127.0.0.1:${(srv.address() as { port: number }).port}` });
  const w = client.watch({ idleTimeoutMs: 300 });
  t.after(async () => { w.close(); srv.closeAllConnections(); srv.close(); await client.close(); });
  const disconnected = new Promise((r) => w.once('disconnected', r));
  const upsert = new Promise<WatchEvent>((resolve) => w.on('event', (e) => { if (e.type === 'upsert') resolve(e); }));
  await disconnected;
  assert.equal((await upsert).index, 4);
  assert.deepEqual(paths, ['/v1/watch', '/v1/watch?index=3']);
});
