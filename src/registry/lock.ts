// One daemon per data dir: two writers appending to one journal would interleave records and corrupt it.
// The lock is a `LOCK` file created with O_EXCL holding the owner's pid. A lock left behind by a daemon that was
// killed with `kill -9` names a dead pid, and the next daemon takes it over instead of refusing forever.
import { constants, closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { MeshError } from '../core/errors.js';

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** True if a process with this pid exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

function readOwner(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch { return undefined; }
}

function ioError(dir: string, err: unknown): MeshError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EROFS' ? 'read-only file system'
    : code === 'ENOSPC' ? 'no space left on device'
    : code === 'ENOTDIR' ? 'not a directory'
    : (err as Error).message;
  return new MeshError('MESH_ERR_STORE_IO', `data dir ${dir} is not writable (${code}: ${why})`, { cause: err });
}

/** Takes the data dir's lock or throws MESH_ERR_STORE_LOCKED / MESH_ERR_STORE_IO. */
export function acquireLock(dir: string): DataDirLock {
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dir, err);
      const owner = readOwner(path);
      if (owner !== undefined && pidAlive(owner)) {
        throw new MeshError('MESH_ERR_STORE_LOCKED', `data dir ${dir} is locked by another registry daemon (pid ${owner})`, {
          hint: `stop that daemon or pass another --data-dir; if no daemon runs, remove ${path}`,
        });
      }
      // The owner is gone (or died between creating the file and writing its pid): the lock is stale.
      try { unlinkSync(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(dir, e); }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      try { unlinkSync(path); } catch { /* best effort */ }
      throw ioError(dir, err);
    }
    closeSync(fd);
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        // Only remove the file if it is still ours.
        if (readOwner(path) === process.pid) { try { unlinkSync(path); } catch { /* already gone */ } }
      },
    };
  }
  throw new MeshError('MESH_ERR_STORE_LOCKED', `data dir ${dir} is locked: another process keeps re-creating ${path}`);
}
