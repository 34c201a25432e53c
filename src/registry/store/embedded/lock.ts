// One daemon per data dir: two writers appending to one journal would interleave records and corrupt it.
//
// Why a lock file and not flock(2): Node has no flock, and the npm packages that add one (fs-ext,
// fs-native-extensions) are native addons, which this otherwise plain-JavaScript CLI does not take on; proper-
// lockfile judges staleness by an mtime the holder must keep refreshing, so a daemon paused for a while loses its
// lock. Instead the LOCK file names its holder exactly (pid, boot id, start time: see lock-owner.ts) and a lock is
// stale when that process is gone, whatever became of its pid.
//
// Protocol, race-free between processes that follow it:
//   - take: write our identity to a private temporary file, then link(2) it to LOCK. link fails if LOCK exists,
//     so LOCK appears atomically with its full content and never half-written.
//   - take over a stale LOCK: only while holding LOCK.takeover (taken with the same link step), re-read LOCK, and
//     if it is still the very file judged stale (same inode), rename our file over it. LOCK never disappears in
//     between, so a newcomer's link cannot slip in, and two starters cannot both replace the same stale lock.
//   - LOCK.takeover is held for microseconds; one left by a process killed inside that window is judged like
//     LOCK and removed by rename-then-check-inode.
// Not covered: daemons in different PID namespaces (containers) sharing one data dir at the same time cannot see
// each other's processes; give each its own data dir.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, linkSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MeshError } from '../../../core/errors.js';
import { fsyncDir } from '../durable-file.js';
import { formatLockOwner, judgeLockOwner, parseLockOwner } from './lock-owner.js';
import { selfIdentity, systemProbe, type ProcessProbe } from './process-identity.js';

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export interface AcquireLockOptions {
  probe?: ProcessProbe;
  /** Told when a stale lock is taken over, and why it was stale. */
  log?: (line: string) => void;
}

/** LOCK paths this process holds: a second store on the same dir in one process is refused before any file work. */
const heldHere = new Set<string>();
/** How long to wait for another process's takeover (microseconds of work) before giving up. */
const TAKEOVER_WAIT_MS = 2_000;
const ATTEMPTS = 20;

function ioError(dir: string, err: unknown): MeshError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EROFS' ? 'read-only file system'
    : code === 'ENOSPC' ? 'no space left on device'
    : code === 'ENOTDIR' ? 'not a directory'
    : (err as Error).message;
  return new MeshError('MESH_ERR_STORE_IO', `data dir ${dir} is not writable (${code}: ${why})`, { cause: err });
}

function locked(dir: string, path: string, pid: number): MeshError {
  return new MeshError('MESH_ERR_STORE_LOCKED', `data dir ${dir} is locked by another registry daemon (pid ${pid})`, {
    hint: `stop that daemon or pass another --data-dir; if no mesh registry runs, remove ${path}`,
  });
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** The file's content and inode, or undefined if it does not exist. */
function readHeld(path: string): { text: string; ino: number } | undefined {
  let fd: number;
  try { fd = openSync(path, constants.O_RDONLY); } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  try { return { text: readFileSync(fd, 'utf8'), ino: fstatSync(fd).ino }; } finally { closeSync(fd); }
}

/** link(2) that reports EEXIST as false. */
function linkIfAbsent(from: string, to: string): boolean {
  try { linkSync(from, to); return true; } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
}

/** Removes a stale file only if it is still the inode that was judged (another process may have replaced it). */
function removeIfSame(path: string, ino: number, probe: ProcessProbe): void {
  const aside = `${path}.${probe.pid}.${randomBytes(4).toString('hex')}.stale`;
  try { renameSync(path, aside); } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  if (statSync(aside).ino !== ino) {
    // Moved a file created after the judgement: put it back (unless yet another one took its place).
    linkIfAbsent(aside, path);
  }
  unlinkSync(aside);
}

/** Runs fn while holding LOCK.takeover; waits while another live process holds it. */
async function withTakeover<T>(dir: string, mine: string, probe: ProcessProbe, fn: () => T): Promise<T> {
  const path = join(dir, 'LOCK.takeover');
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  while (!linkIfAbsent(mine, path)) {
    const other = readHeld(path);
    if (other === undefined) continue;
    const verdict = judgeLockOwner(parseLockOwner(other.text), probe);
    if (!verdict.held) { removeIfSame(path, other.ino, probe); continue; }
    if (Date.now() > deadline) throw locked(dir, path, verdict.pid);
    await new Promise((r) => setTimeout(r, 5));
  }
  try { return fn(); } finally { try { unlinkSync(path); } catch { /* nobody removes a live holder's; nothing to do */ } }
}

/** Takes the data dir's lock or throws MESH_ERR_STORE_LOCKED / MESH_ERR_STORE_IO. */
export async function acquireLock(dir: string, opts: AcquireLockOptions = {}): Promise<DataDirLock> {
  const probe = opts.probe ?? systemProbe;
  const path = join(dir, 'LOCK');
  // Keyed by the real path: our own pid in LOCK means "stale" unless this process holds it under any spelling.
  let key: string;
  try { key = join(realpathSync(dir), 'LOCK'); } catch (err) { throw ioError(dir, err); }
  if (heldHere.has(key)) throw locked(dir, path, probe.pid);
  // Claimed before the first await, so two opens racing inside one process cannot both pass the check above.
  heldHere.add(key);
  let taken: DataDirLock | undefined;
  try {
    taken = await take(dir, path, probe, opts);
    const { release } = taken;
    let released = false;
    return { path, release() { if (released) return; released = true; heldHere.delete(key); release(); } };
  } finally {
    if (!taken) heldHere.delete(key);
  }
}

async function take(dir: string, path: string, probe: ProcessProbe, opts: AcquireLockOptions): Promise<DataDirLock> {
  const content = formatLockOwner(selfIdentity(probe));
  const mine = join(dir, `LOCK.${probe.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(mine, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try { writeSync(fd, content); fsyncSync(fd); } finally { closeSync(fd); }
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (linkIfAbsent(mine, path)) return await held(dir, path, content);
      const seen = readHeld(path);
      if (seen === undefined) continue;
      const verdict = judgeLockOwner(parseLockOwner(seen.text), probe);
      if (verdict.held) throw locked(dir, path, verdict.pid);
      const replaced = await withTakeover(dir, mine, probe, () => {
        if (readHeld(path)?.ino !== seen.ino) return false;
        renameSync(mine, path);
        return true;
      });
      if (replaced) {
        opts.log?.(`took over the stale lock ${path}: ${verdict.why}`);
        return await held(dir, path, content);
      }
    }
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw ioError(dir, err);
  } finally {
    try { unlinkSync(mine); } catch { /* renamed into LOCK, or never created */ }
  }
  throw new MeshError('MESH_ERR_STORE_LOCKED', `data dir ${dir} is locked: other processes keep replacing ${path}`);
}

async function held(dir: string, path: string, content: string): Promise<DataDirLock> {
  try { await fsyncDir(dir); } catch (err) {
    unlinkSync(path);
    throw err;
  }
  return {
    path,
    release() {
      // Only remove the file if it is still ours.
      try { if (readFileSync(path, 'utf8') === content) unlinkSync(path); } catch { /* already gone */ }
    },
  };
}
