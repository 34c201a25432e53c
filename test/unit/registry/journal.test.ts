import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { isMeshError } from '../../../src/core/errors.js';
import { scanFrames } from '../../../src/registry/store/embedded/journal-frames.js';
import { Journal, encodeRecord, readJournal } from '../../../src/registry/store/embedded/journal.js';
import { tempDir } from '../../helpers/mesh.js';

function tmp(t: TestContext): string {
  const d = tempDir();
  t.after(d.cleanup);
  return d.path;
}

async function openJournal(path: string) {
  const seen: unknown[] = [];
  const { journal, stats } = await Journal.open(path, (r) => seen.push(r));
  return { journal, stats, seen };
}

async function writeThree(path: string): Promise<number[]> {
  const { journal } = await openJournal(path);
  const ends = await Promise.all([{ i: 1 }, { i: 2 }, { i: 3 }].map((r) => journal.append(r)));
  await journal.close();
  return ends;
}

test('appends concurrently and replays every record in order', { timeout: 10_000 }, async (t) => {
  const path = join(tmp(t), 'journal.log');
  const { journal } = await openJournal(path);
  const records = Array.from({ length: 500 }, (_, i) => ({ i: i + 1, payload: 'x'.repeat(i % 50) }));
  // Each promise resolves only once its record is in the file (checked from an independent read).
  const ends = await Promise.all(records.map(async (r) => {
    const end = await journal.append(r);
    assert.ok(statSync(path).size >= end, 'resolved before the record reached the file');
    return end;
  }));
  assert.deepEqual([...ends].sort((a, b) => a - b), ends, 'offsets follow append order');
  assert.equal(journal.recordCount, 500);
  await journal.close();
  const { seen, stats } = await openJournal(path);
  assert.deepEqual(seen, records);
  assert.deepEqual(stats, { records: 500, skippedBytes: 0 });
});

const badJson = Buffer.from('{"i":4,');
const badJsonFrame = Buffer.alloc(8 + badJson.length);
badJsonFrame.writeUInt32LE(badJson.length, 0);
badJsonFrame.writeUInt32LE(crc32(badJson), 4);
badJson.copy(badJsonFrame, 8);

const damages: { name: string; damage: (path: string, ends: number[]) => void; good: number }[] = [
  { name: 'truncated last record (half its payload)', good: 2, damage: (p, e) => truncateSync(p, e[1]! + Math.floor((e[2]! - e[1]!) / 2)) },
  { name: 'truncated last record (inside its header)', good: 2, damage: (p, e) => truncateSync(p, e[1]! + 3) },
  { name: 'garbage tail after good records', good: 3, damage: (p) => appendFileSync(p, Buffer.from('\x00\xff\x13garbage that is not a frame')) },
  { name: 'zero-filled tail (preallocated blocks)', good: 3, damage: (p) => appendFileSync(p, Buffer.alloc(4096)) },
  { name: 'bad crc in the last record', good: 2, damage: (p, e) => { const b = readFileSync(p); b[e[2]! - 2] ^= 0xff; writeFileSync(p, b); } },
  { name: 'valid crc but bad JSON', good: 3, damage: (p) => appendFileSync(p, badJsonFrame) },
  { name: 'absurd length', good: 3, damage: (p) => { const h = Buffer.alloc(8); h.writeUInt32LE(0xfffffff0, 0); appendFileSync(p, h); } },
];

for (const { name, damage, good } of damages) {
  test(`replay stops at the first bad record and truncates it: ${name}`, { timeout: 10_000 }, async (t) => {
    const path = join(tmp(t), 'journal.log');
    const ends = await writeThree(path);
    damage(path, ends);
    const sizeBefore = statSync(path).size;
    const { journal, stats, seen } = await openJournal(path);
    assert.deepEqual(seen, [{ i: 1 }, { i: 2 }, { i: 3 }].slice(0, good));
    assert.equal(stats.records, good);
    assert.equal(stats.skippedBytes, sizeBefore - ends[good - 1]!);
    assert.equal(statSync(path).size, ends[good - 1], 'file cut back to the last good record');
    // Appends after the cut replay normally (nothing stranded behind the old garbage).
    await journal.append({ i: 9 });
    await journal.close();
    const again = await readJournal(path);
    assert.deepEqual(again.records, [...seen, { i: 9 }]);
    assert.equal(again.skippedBytes, 0);
  });
}

test('rewriteFrom keeps only the records after the cut and later appends follow them', { timeout: 10_000 }, async (t) => {
  const path = join(tmp(t), 'journal.log');
  const { journal } = await openJournal(path);
  const ends = await Promise.all([1, 2, 3, 4].map((i) => journal.append({ i })));
  const pending = journal.append({ i: 5 });
  await journal.rewriteFrom(ends[1]!);
  const fifth = await pending;
  assert.ok(fifth > ends[3]!, 'logical offsets keep growing across a rewrite');
  assert.equal(journal.recordCount, 3);
  await journal.append({ i: 6 });
  await journal.close();
  assert.deepEqual((await readJournal(path)).records, [{ i: 3 }, { i: 4 }, { i: 5 }, { i: 6 }]);
});

test('an empty or missing journal replays as empty', { timeout: 10_000 }, async (t) => {
  const dir = tmp(t);
  const { journal, stats } = await openJournal(join(dir, 'journal.log'));
  assert.deepEqual(stats, { records: 0, skippedBytes: 0 });
  await journal.close();
  assert.equal(encodeRecord({ a: 1 }).readUInt32LE(0), Buffer.byteLength('{"a":1}'));
});

const flip = (p: string, at: number) => { const b = readFileSync(p); b[at] ^= 0x01; writeFileSync(p, b); };

// Bad bytes with a valid record after them are damage to acknowledged records, not a torn write: refuse, and
// leave every byte where it was (the user runs `mesh registry repair`, which keeps a backup).
const midFile: { name: string; damage: (path: string, ends: number[]) => void; at: (ends: number[]) => number; resumes: (ends: number[]) => number }[] = [
  { name: 'one flipped bit in the first record\'s payload', damage: (p, e) => flip(p, e[0]! - 3), at: () => 0, resumes: (e) => e[0]! },
  { name: 'one flipped bit in the middle record\'s payload', damage: (p, e) => flip(p, e[0]! + 12), at: (e) => e[0]!, resumes: (e) => e[1]! },
  { name: 'the middle record\'s length field changed', damage: (p, e) => flip(p, e[0]!), at: (e) => e[0]!, resumes: (e) => e[1]! },
  { name: 'the middle record\'s crc zeroed', damage: (p, e) => { const b = readFileSync(p); b.fill(0, e[0]! + 4, e[0]! + 8); writeFileSync(p, b); }, at: (e) => e[0]!, resumes: (e) => e[1]! },
];

for (const { name, damage, at, resumes } of midFile) {
  test(`damage followed by valid records refuses to open and leaves the file untouched: ${name}`, { timeout: 10_000 }, async (t) => {
    const path = join(tmp(t), 'journal.log');
    const ends = await writeThree(path);
    damage(path, ends);
    const before = readFileSync(path);
    await assert.rejects(openJournal(path), (err: unknown) => {
      assert.ok(isMeshError(err));
      assert.equal(err.code, 'MESH_ERR_STORE_CORRUPT');
      assert.match(err.message, new RegExp(`^journal ${path} is damaged at byte ${at(ends)} \\(\\d+ unreadable bytes, valid records follow at byte ${resumes(ends)}\\)`));
      assert.match(err.hint, /mesh registry repair --data-dir /);
      return true;
    });
    assert.deepEqual(readFileSync(path), before, 'the file is byte-identical');
  });
}

test('scanFrames keeps every valid frame around damage and reports the damage and a torn tail apart', () => {
  const frames = [1, 2, 3, 4].map((i) => encodeRecord({ i }));
  const buf = Buffer.concat([frames[0]!, Buffer.from('junk!'), frames[1]!, frames[2]!, frames[3]!.subarray(0, 6)]);
  buf[frames[0]!.length + 5 + frames[1]!.length + 9] ^= 0x01; // record 3's payload
  const seen: unknown[] = [];
  const scan = scanFrames(buf, (r) => seen.push(r));
  assert.deepEqual(seen, [{ i: 1 }, { i: 2 }]);
  assert.equal(scan.records, 2);
  const a = frames[0]!.length;
  assert.deepEqual(scan.damaged, [{ offset: a, bytes: 5 }]);
  assert.deepEqual(scan.kept, [{ start: 0, end: a }, { start: a + 5, end: a + 5 + frames[1]!.length }]);
  // Record 3 (damaged) and the torn half of record 4 have no valid frame after them: a torn tail.
  assert.equal(scan.tornTailBytes, frames[2]!.length + 6);
});
