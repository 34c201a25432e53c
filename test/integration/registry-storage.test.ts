// The data dir as a new user meets it, through the real bin/mesh: damage inside the journal (not a torn tail)
// refuses the start and is salvaged by `mesh registry repair`; a torn tail is still cut; a corrupt snapshot
// refuses the start; a stale LOCK whose pid now belongs to another process is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceSpec } from '../../src/core/types.js';
import { runMesh } from '../helpers/mesh.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const spec = (id: string, n: number): InstanceSpec => ({ service: 'web', id, address: `127.0.0.1:${9000 + n}`, weight: 100, priority: 0, tags: {} });

/** Registers m1…mN (each acknowledged), then kill -9. */
async function registerThenKill(reg: TestRegistry, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await reg.client.register(spec(`m${i}`, i));
  reg.daemon.child.kill('SIGKILL');
  assert.equal((await reg.daemon.exited).signal, 'SIGKILL');
}

/** Each frame of a journal file ([u32 length][u32 crc][payload]), read independently of the code under test. */
function frames(buf: Buffer): { start: number; end: number; payload: string }[] {
  const out: { start: number; end: number; payload: string }[] = [];
  for (let off = 0; off + 8 <= buf.length;) {
    const end = off + 8 + buf.readUInt32LE(off);
    out.push({ start: off, end, payload: buf.subarray(off + 8, end).toString('utf8') });
    off = end;
  }
  return out;
}

const frameOf = (buf: Buffer, id: string) => frames(buf).find((f) => f.payload.includes(`"id":"${id}"`))!;
const ids = async (reg: TestRegistry) => (await reg.client.service('web')).instances.map((i) => i.id).sort();
const startArgs = (dir: string) => ['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dir];

test('one flipped byte inside an acknowledged early record: start refuses naming the offset, file untouched; repair keeps every other record', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  await registerThenKill(reg, 5);
  const journal = join(reg.dataDir, 'journal.log');
  const buf = readFileSync(journal);
  const m2 = frameOf(buf, 'm2');
  buf[m2.start + 8 + 10] ^= 0x20; // inside m2's JSON payload
  writeFileSync(journal, buf);

  const refused = await runMesh(startArgs(reg.dataDir));
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.stderr.trimEnd().split('\n').length, 1, `one line: ${refused.stderr}`);
  assert.match(refused.stderr, new RegExp(`^mesh: journal ${journal} is damaged at byte ${m2.start} \\(${m2.end - m2.start} unreadable bytes, valid records follow at byte ${m2.end}\\); the file was left untouched \\(run \`mesh registry repair --data-dir ${reg.dataDir}\``));
  assert.deepEqual(readFileSync(journal), buf, 'the journal is byte-identical after the refused start');

  const repaired = await runMesh(['registry', 'repair', '--data-dir', reg.dataDir, '--json']);
  assert.equal(repaired.code, 0, repaired.stderr);
  const report = JSON.parse(repaired.stdout);
  assert.equal(report.journal.records, 4);
  assert.deepEqual(report.journal.damaged, [{ offset: m2.start, bytes: m2.end - m2.start }]);
  assert.equal(report.journal.tornTailBytes, 0);
  assert.equal(report.journal.keptBytes, buf.length - (m2.end - m2.start));
  assert.deepEqual(readFileSync(report.journal.backup), buf, 'the damaged journal is kept as the backup, byte for byte');

  const again = await startRegistry(t, { dataDir: reg.dataDir });
  assert.deepEqual(await ids(again), ['m1', 'm3', 'm4', 'm5']);
  // The next registration takes a fresh index after the salvaged records.
  const m6 = await again.client.register(spec('m6', 6));
  assert.equal(m6.instance.modifyIndex, 6);
});

test('a torn tail (the last record cut mid-frame by a crash) still starts and is cut', { timeout: 40_000 }, async (t) => {
  const reg = await startRegistry(t);
  await registerThenKill(reg, 3);
  const journal = join(reg.dataDir, 'journal.log');
  const m3 = frameOf(readFileSync(journal), 'm3');
  truncateSync(journal, m3.start + 20);
  const again = await startRegistry(t, { dataDir: reg.dataDir });
  assert.match(again.daemon.stderr(), new RegExp(`journal: cut 20 bytes of a torn write at the end of ${journal}`));
  assert.deepEqual(await ids(again), ['m1', 'm2']);
  assert.equal(readFileSync(journal).length, m3.start, 'the torn bytes are gone');
});

test('a corrupt snapshot refuses the start with one line; repair sets it aside only when asked', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  for (let i = 1; i <= 2; i++) await reg.client.register(spec(`m${i}`, i));
  assert.deepEqual(await reg.stop(), { code: 0, signal: null });
  const snapshot = join(reg.dataDir, 'snapshot.json');
  const damaged = '{"format":1,"index":0,"instances":[{"service":"web","id":"z';
  writeFileSync(snapshot, damaged);

  const refused = await runMesh(startArgs(reg.dataDir));
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trimEnd().split('\n').length, 1, `one line: ${refused.stderr}`);
  assert.match(refused.stderr, new RegExp(`^mesh: snapshot ${snapshot} is corrupt \\(.*\\); the file was left untouched \\(restore it from a backup, or run \`mesh registry repair --data-dir ${reg.dataDir} --discard-snapshot\``));
  const unasked = await runMesh(['registry', 'repair', '--data-dir', reg.dataDir]);
  assert.equal(unasked.code, 1);
  assert.match(unasked.stderr, /snapshot .* is corrupt/);
  assert.equal(readFileSync(snapshot, 'utf8'), damaged, 'untouched without --discard-snapshot');

  const repaired = await runMesh(['registry', 'repair', '--data-dir', reg.dataDir, '--discard-snapshot']);
  assert.equal(repaired.code, 0, repaired.stderr);
  const aside = repaired.stdout.match(/corrupt, set aside as (\S+)/)?.[1];
  assert.ok(aside, repaired.stdout);
  assert.equal(readFileSync(aside, 'utf8'), damaged);
  assert.equal(existsSync(snapshot), false);
  assert.match(repaired.stdout, /journal .*: 2 records, no damage; left untouched/);
  const again = await startRegistry(t, { dataDir: reg.dataDir });
  assert.deepEqual(await ids(again), ['m1', 'm2']);
});

test('repair refuses to run beside a live daemon on the same data dir', { timeout: 30_000 }, async (t) => {
  const reg = await startRegistry(t);
  await reg.client.register(spec('m1', 1));
  const res = await runMesh(['registry', 'repair', '--data-dir', reg.dataDir]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, new RegExp(`^mesh: data dir ${reg.dataDir} is locked by another registry daemon \\(pid ${reg.daemon.child.pid}\\)`));
  assert.deepEqual(await ids(reg), ['m1'], 'the daemon keeps serving');
});

// A LOCK whose pid is alive but is not the process that wrote it: what a reboot or a container restart leaves.
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const staleLocks: { name: string; lock: (pid: number) => string; why: (pid: number) => RegExp }[] = [
  { name: 'pid only (as older versions wrote it), now a `sleep`', lock: (pid) => `${pid}\n`, why: (pid) => new RegExp(`pid ${pid} is not a mesh registry \\(sleep`) },
  { name: 'same boot, another start time (the pid was reused)', lock: (pid) => `${pid}\nboot_id=${bootId}\nstart_time=1\n`, why: (pid) => new RegExp(`pid ${pid} is now another process \\(its start time differs\\)`) },
  { name: 'written before a reboot', lock: (pid) => `${pid}\nboot_id=00000000-0000-0000-0000-000000000000\nstart_time=1\n`, why: (pid) => new RegExp(`pid ${pid} wrote it before the machine rebooted`) },
];

for (const { name, lock, why } of staleLocks) {
  test(`a LOCK naming a live process that is not its writer is taken over: ${name}`, { timeout: 30_000 }, async (t) => {
    const first = await startRegistry(t);
    await first.client.register(spec('m1', 1));
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => sleeper.kill('SIGKILL'));
    await new Promise((r) => sleeper.once('spawn', r));
    writeFileSync(join(first.dataDir, 'LOCK'), lock(sleeper.pid!));
    const reg = await startRegistry(t, { dataDir: first.dataDir });
    assert.match(reg.daemon.stderr(), why(sleeper.pid!));
    assert.deepEqual(await ids(reg), ['m1']);
    assert.equal(readFileSync(join(first.dataDir, 'LOCK'), 'utf8').split('\n')[0], String(reg.daemon.child.pid));
  });
}
