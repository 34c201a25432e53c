// repairDataDir on files staged by hand: what it keeps, what it drops, what it never touches.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMeshError } from '../../../src/core/errors.js';
import { encodeRecord, readJournal } from '../../../src/registry/store/embedded/journal.js';
import { repairDataDir } from '../../../src/registry/store/embedded/repair.js';
import { writeSnapshot } from '../../../src/registry/store/embedded/snapshot.js';
import { tempDir } from '../../helpers/mesh.js';

function tmp(t: TestContext): string {
  const d = tempDir();
  t.after(d.cleanup);
  return d.path;
}

const NOW = () => new Date('2026-11-29T20:00:00.000Z');
const frames = [1, 2, 3, 4, 5].map((i) => encodeRecord({ i }));

test('repair keeps every valid frame across two damaged regions and a torn tail, and backs up the original', async (t) => {
  const dir = tmp(t);
  const original = Buffer.concat([frames[0]!, Buffer.from('xx'), frames[1]!, frames[2]!, Buffer.from('yyy'), frames[3]!, frames[4]!.subarray(0, 9)]);
  writeFileSync(join(dir, 'journal.log'), original);
  const report = await repairDataDir(dir, { now: NOW });
  const a = frames[0]!.length;
  const b = a + 2 + frames[1]!.length + frames[2]!.length;
  assert.deepEqual(report.journal.damaged, [{ offset: a, bytes: 2 }, { offset: b, bytes: 3 }]);
  assert.equal(report.journal.tornTailBytes, 9);
  assert.equal(report.journal.records, 4);
  assert.equal(report.journal.backup, join(dir, 'journal.log.corrupt-2026-11-29T20-00-00-000Z'));
  assert.deepEqual(readFileSync(report.journal.backup!), original);
  assert.deepEqual((await readJournal(join(dir, 'journal.log'))), { records: [{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }], skippedBytes: 0 });
  assert.deepEqual(readdirSync(dir).sort(), ['journal.log', 'journal.log.corrupt-2026-11-29T20-00-00-000Z'], 'no LOCK or temporary file is left');
});

test('a sound data dir is left untouched: no backup, no rewrite, a readable snapshot kept', async (t) => {
  const dir = tmp(t);
  await writeSnapshot(dir, { index: 2, instances: [] });
  const journal = Buffer.concat(frames.slice(0, 3));
  writeFileSync(join(dir, 'journal.log'), journal);
  const report = await repairDataDir(dir, { now: NOW, discardSnapshot: true });
  assert.equal(report.journal.rewritten, false);
  assert.equal(report.snapshot.state, 'ok');
  assert.deepEqual(readFileSync(join(dir, 'journal.log')), journal);
  assert.deepEqual(readdirSync(dir).sort(), ['journal.log', 'snapshot.json']);
});

test('a data dir that does not exist is refused, not created', async (t) => {
  const dir = join(tmp(t), 'nope');
  await assert.rejects(repairDataDir(dir), (err: unknown) => {
    assert.ok(isMeshError(err));
    assert.equal(err.code, 'MESH_ERR_STORE_IO');
    assert.equal(err.message, `data dir ${dir} cannot be repaired: it does not exist`);
    return true;
  });
});
