import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../../../src/core/types.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { KeepAlive } from '../../../src/registry/keep-alive.js';
import { RegistryServer } from '../../../src/registry/api/server.js';
import type { StoreEvent } from '../../../src/registry/store/store.js';
import { WatchHub } from '../../../src/registry/catalogue/watch-hub.js';
import { MemoryStore } from './memory-store.js';

test('KeepAlive registers, heartbeats, re-registers a lost instance, and deregisters on stop', { timeout: 10_000 }, async (t) => {
  const store = new MemoryStore();
  const hub = new WatchHub(store);
  const server = new RegistryServer({ store, hub, version: 'test' });
  const addr = await server.listen('127.0.0.1', 0);
  const client = new RegistryClient({ url: `http://127.0.0.1:${addr.port}` });
  t.after(async () => { hub.close(); await client.close(); await server.close(100); });
  const next = (pred: (e: StoreEvent) => boolean) => new Promise<StoreEvent>((resolve) => {
    const off = store.subscribe((e) => { if (pred(e)) { off(); resolve(e); } });
  });

  const spec: InstanceSpec = { service: 'svc', id: 'a', address: '127.0.0.1:1', weight: 100, priority: 0, tags: {}, check: { ttlMs: 300, deregisterAfterMs: 1_000 } };
  const lines: string[] = [];
  const keeper = new KeepAlive(client, spec, { log: (l) => lines.push(l) });
  await keeper.start();
  assert.equal(store.get('svc', 'a')?.health, 'passing', 'the first heartbeat follows the registration');

  // The registry forgets the instance (expired, or restarted elsewhere): the next tick registers it again.
  const back = next((e) => e.type === 'upsert' && e.instance.id === 'a');
  await store.remove('svc', 'a', 'expired');
  await back;
  assert.match(lines.join('\n'), /no longer had svc\/a; registering it again/);

  const gone = next((e) => e.type === 'remove');
  await keeper.stop();
  assert.equal((await gone).type, 'remove');
  assert.equal(store.get('svc', 'a'), undefined);
  await keeper.stop(); // idempotent
});
