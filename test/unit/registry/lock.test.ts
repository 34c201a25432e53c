// The data-dir lock on real files: several processes released at the same instant on one stale LOCK must end
// with exactly one holder (the takeover race an unlink-and-recreate protocol loses); our own pid in LOCK is stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMeshError } from '../../../src/core/errors.js';
import { acquireLock } from '../../../src/registry/store/embedded/lock.js';
import { tempDir } from '../../helpers/mesh.js';

const LOCK_MODULE = fileURLToPath(new URL('../../../src/registry/store/embedded/lock.js', import.meta.url));
/** Imports the lock, says ready, takes the lock on "go", prints the outcome, holds it until stdin ends. */
const CONTENDER = `
const { acquireLock } = await import(process.argv[1]);
process.stdout.write('ready\\n');
process.stdin.once('data', async () => {
  try { await acquireLock(process.argv[2]); process.stdout.write('took\\n'); }
  catch (err) { process.stdout.write((err.code ?? String(err)) + '\\n'); }
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
});
`;
/** A pid no process has (above any pid_max). */
const DEAD_PID = 2_147_483_646;

function contender(dir: string): { child: ChildProcess; lines: string[]; line(n: number): Promise<string> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, LOCK_MODULE, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
    for (const w of waiters.splice(0)) w();
  });
  const line = (n: number) => new Promise<string>((resolve, reject) => {
    const check = () => {
      if (lines.length > n) resolve(lines[n]!);
      else if (child.exitCode !== null) reject(new Error(`contender exited before line ${n}`));
      else waiters.push(check);
    };
    child.once('exit', () => { for (const w of waiters.splice(0)) w(); });
    check();
  });
  return { child, lines, line };
}

test('starters racing for one stale LOCK: exactly one takes it, the others are refused', { timeout: 60_000 }, async (t) => {
  const ROUNDS = 8;
  const CONTENDERS = 4;
  for (let round = 0; round < ROUNDS; round++) {
    const dir = tempDir('mesh-lock-');
    t.after(dir.cleanup);
    writeFileSync(join(dir.path, 'LOCK'), `${DEAD_PID}\n`);
    const racers = Array.from({ length: CONTENDERS }, () => contender(dir.path));
    t.after(() => { for (const r of racers) r.child.kill('SIGKILL'); });
    await Promise.all(racers.map((r) => r.line(0)));
    for (const r of racers) r.child.stdin!.write('go\n');
    const outcomes = await Promise.all(racers.map((r) => r.line(1)));
    for (const r of racers) r.child.stdin!.end();
    await Promise.all(racers.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : r.child.once('exit', resolve)))));
    assert.deepEqual(outcomes.filter((o) => o === 'took').length, 1, `round ${round}: ${outcomes.join(', ')}`);
    assert.deepEqual(outcomes.filter((o) => o !== 'took'), Array(CONTENDERS - 1).fill('MESH_ERR_STORE_LOCKED'), `round ${round}`);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f !== 'LOCK'), [], 'no temporary lock files are left behind');
  }
});

test('a LOCK naming this very process is stale unless this process holds it (PID 1 restarted in a container)', { timeout: 10_000 }, async (t) => {
  const dir = tempDir('mesh-lock-');
  t.after(dir.cleanup);
  // What a previous life of this pid left behind, down to the identity: only the in-process record tells them apart.
  writeFileSync(join(dir.path, 'LOCK'), `${process.pid}\n`);
  const lines: string[] = [];
  const lock = await acquireLock(dir.path, { log: (l) => lines.push(l) });
  assert.match(lines.join('\n'), new RegExp(`took over the stale lock .*pid ${process.pid}, which is this process`));
  // Held now: a second take in this process is refused, under any spelling of the path.
  symlinkSync(dir.path, `${dir.path}-link`);
  t.after(() => rmSync(`${dir.path}-link`, { force: true }));
  for (const spelling of [dir.path, `${dir.path}-link`, `${dir.path}/.`]) {
    await assert.rejects(acquireLock(spelling), (err: unknown) => isMeshError(err) && err.code === 'MESH_ERR_STORE_LOCKED', spelling);
  }
  lock.release();
  assert.equal(existsSync(join(dir.path, 'LOCK')), false);
  (await acquireLock(`${dir.path}-link`)).release();
});
