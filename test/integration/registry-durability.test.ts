// Durability and watch through the real daemon: kill -9 mid-stream of registrations loses none that were
// acknowledged; a watcher hears about a registration (latency recorded, never asserted); a watcher resumes
// across a daemon restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../../src/core/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { runMesh } from '../helpers/mesh.js';
import { recordWatch, startRegistry } from '../helpers/registry.js';

const spec = (service: string, n: number): InstanceSpec => ({
  service, id: `i${n}`, address: `127.0.0.1:${10_000 + n}`, weight: 100, priority: 0, tags: { n: String(n) },
});

test('kill -9 mid-stream of registrations: every acknowledged one survives the restart', { timeout: 40_000 }, async (t) => {
  const reg = await startRegistry(t);
  const client = new RegistryClient({ url: reg.url, timeoutMs: 5_000 });
  t.after(() => client.close());
  const TOTAL = 2_000;
  const KILL_AFTER = 300;
  const acked = new Set<string>();
  let next = 0;
  let killed = false;
  // 16 writers, each sending registrations back to back; the daemon is killed once KILL_AFTER are acknowledged,
  // while the others are still in flight.
  const writer = async () => {
    while (next < TOTAL) {
      const s = spec('bulk', next++);
      try {
        await client.register(s);
        acked.add(s.id);
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          reg.daemon.child.kill('SIGKILL');
        }
      } catch {
        return; // the daemon is gone: this one was never acknowledged
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, writer));
  assert.ok(killed, 'the daemon was killed mid-stream');
  const exit = await reg.daemon.exited;
  assert.equal(exit.signal, 'SIGKILL');
  t.diagnostic(`${acked.size} acknowledged of ${next} sent before kill -9`);

  const again = await startRegistry(t, { dataDir: reg.dataDir });
  assert.match(again.daemon.stderr(), /\d+ instances? replayed in \d+ ms/);
  const present = new Set((await again.client.service('bulk')).instances.map((i) => i.id));
  const lost = [...acked].filter((id) => !present.has(id));
  assert.deepEqual(lost, [], 'acknowledged registrations lost by kill -9');
  assert.ok(present.size >= acked.size);
  const list = await runMesh(['services', '--json', '--registry', again.url]);
  assert.equal(JSON.parse(list.stdout).services[0].instances, present.size);
});

test('a watcher sees a registration as soon as it is acknowledged', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  const log = await recordWatch(t, reg.client, ['fast']);
  const latencies: number[] = [];
  for (let n = 0; n < 20; n++) {
    const sent = performance.now();
    await reg.client.register(spec('fast', n));
    const seen = await log.next((e) => e.type === 'upsert' && e.instance.id === `i${n}`);
    latencies.push(seen.at - sent);
  }
  // Through the real CLI too: the event arrives for a registration made by another process.
  const res = await runMesh(['register', 'fast', '--address', '127.0.0.1:9999', '--id', 'cli', '--registry', reg.url]);
  assert.equal(res.code, 0, res.stderr);
  await log.next((e) => e.type === 'upsert' && e.instance.id === 'cli');
  latencies.sort((a, b) => a - b);
  t.diagnostic(`register → watch event latency over 20 registrations: p50 ${latencies[10]!.toFixed(1)} ms, max ${latencies[19]!.toFixed(1)} ms`);
  assert.equal(log.events.filter((e) => e.event.type === 'upsert').length, 21);
});

test('a watcher resumes across a daemon restart without losing events', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  for (let n = 0; n < 3; n++) await reg.client.register(spec('resume', n));
  const log = await recordWatch(t, reg.client, ['resume']);
  const reset = await log.next((e) => e.type === 'reset');
  assert.equal(reset.event.type === 'reset' && reset.event.instances.length, 3);
  assert.deepEqual(await reg.stop(), { code: 0, signal: null });
  const again = await startRegistry(t, { dataDir: reg.dataDir });
  // The daemon came back on another ephemeral port, so resume as a Watcher does after a reconnect: same
  // watched set, the last index it saw.
  const cont = again.client.watch({ services: ['resume'], index: reset.event.index });
  t.after(() => cont.close());
  const seen: string[] = [];
  cont.on('event', (e) => seen.push(e.type === 'upsert' ? `upsert:${e.instance.id}` : e.type));
  const sawI3 = new Promise<void>((resolve) => cont.on('event', (e) => { if (e.type === 'upsert' && e.instance.id === 'i3') resolve(); }));
  await again.client.register(spec('resume', 3));
  await sawI3;
  assert.deepEqual(seen, ['upsert:i3'], 'resumed from the old index: no reset, only the new event');
});
