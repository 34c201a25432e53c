// The embedded store keeps the central config's versions through journal replay and through compaction into
// a snapshot; concurrent updates are serialised so none is lost; a throwing update writes nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmbeddedStore } from '../../../src/registry/store/embedded/embedded-store.js';
import { HISTORY_LIMIT } from '../../../src/registry/config/history.js';
import { tempDir } from '../../helpers/mesh.js';

test('config versions survive replay and compaction; updates are serialised; a failed one writes nothing', async (t) => {
  const dir = tempDir('mesh-config-store-');
  t.after(dir.cleanup);
  const store = new EmbeddedStore({ dataDir: dir.path, compactAfterRecords: 10 });
  await store.open();
  await store.upsert({ service: 'web', id: 'w1', address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {} });
  const writes = Array.from({ length: HISTORY_LIMIT + 5 }, (_, i) => store.updateConfig(`apply ${i}`, (cur) => ({
    proxy: { services: { ...cur.proxy.services, [`s${i}`]: { retries: i % 10 } } }, authz: null,
  })));
  const versions = await Promise.all(writes);
  assert.equal(Object.keys(store.config.current()!.config.proxy.services!).length, HISTORY_LIMIT + 5, 'no update lost another');
  assert.deepEqual(versions.map((v) => v!.version), [...versions.map((v) => v!.version)].sort((a, b) => a - b));
  const index = store.currentIndex();
  await assert.rejects(store.updateConfig('bad', () => { throw new Error('refused'); }), /refused/);
  assert.equal(store.currentIndex(), index, 'a refused update writes nothing');
  const kept = store.config.list();
  assert.equal(kept.length, HISTORY_LIMIT);
  await store.close();
  assert.ok(existsSync(join(dir.path, 'snapshot.json')), 'the journal was compacted');

  const again = new EmbeddedStore({ dataDir: dir.path });
  await again.open();
  t.after(() => again.close());
  assert.deepEqual(again.config.list(), kept);
  assert.equal(again.currentIndex(), index);
  assert.equal(again.list().length, 1);
});
