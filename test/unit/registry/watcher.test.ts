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
