// `mesh registry repair`: salvage a data dir the daemon refuses to start on (MESH_ERR_STORE_CORRUPT).
//
// Decisions:
//   - Nothing is lost that was readable: the damaged journal is first copied to journal.log.corrupt-<time>
//     (fsynced), then journal.log is replaced (temporary file, fsync, rename) by the concatenation of every
//     frame that reads back valid, byte for byte. Only the unreadable regions are dropped; the report names
//     their offsets and sizes. A record lost this way cannot be told apart from garbage, so a dropped
//     deregistration can bring an instance back: health checks or TTLs then retire it as usual.
//   - A corrupt snapshot.json is set aside (renamed to snapshot.json.corrupt-<time>) only when asked with
//     discardSnapshot: it holds every registration older than the last compaction, so dropping it is the
//     user's call, not a default. A readable snapshot is never touched.
//   - Repair takes the data dir's lock, so it refuses to run beside a live daemon. Every step leaves a state a
//     rerun can finish from; if it is interrupted, run it again.
import { constants } from 'node:fs';
import { copyFile, open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMeshError, MeshError } from '../../../core/errors.js';
import { fsyncDir, replaceFileDurably } from '../durable-file.js';
import { scanFrames, type DamagedRegion } from './journal-frames.js';
import { storeIoError } from './journal.js';
import { acquireLock } from './lock.js';
import { readSnapshot, SNAPSHOT_FILE } from './snapshot.js';

export const JOURNAL_FILE = 'journal.log';

export interface RepairOptions {
  /** Set a corrupt snapshot.json aside instead of refusing. */
  discardSnapshot?: boolean;
  now?: () => Date;
}

export interface RepairReport {
  dataDir: string;
  journal: {
    path: string;
    /** False when there is no journal file. */
    present: boolean;
    /** Size before the repair. */
    bytes: number;
    /** Valid records found (and kept). */
    records: number;
    keptBytes: number;
    damaged: DamagedRegion[];
    tornTailBytes: number;
    /** Whether journal.log was replaced; if so, the original is at backup. */
    rewritten: boolean;
    backup?: string;
  };
  snapshot: {
    path: string;
    state: 'absent' | 'ok' | 'set-aside';
    /** Why it was set aside. */
    reason?: string;
    backup?: string;
  };
}

/** Repairs the data dir in place; throws MESH_ERR_STORE_LOCKED beside a live daemon. */
export async function repairDataDir(dir: string, opts: RepairOptions = {}): Promise<RepairReport> {
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw new MeshError('MESH_ERR_STORE_IO', `data dir ${dir} cannot be repaired: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`, {
      hint: 'pass the --data-dir the daemon runs with',
    });
  }
  const stamp = (opts.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const lock = await acquireLock(dir);
  try {
    const snapshot = await repairSnapshot(dir, stamp, opts.discardSnapshot === true);
    const journal = await repairJournal(dir, stamp);
    return { dataDir: dir, journal, snapshot };
  } finally {
    lock.release();
  }
}

async function repairSnapshot(dir: string, stamp: string, discard: boolean): Promise<RepairReport['snapshot']> {
  const path = join(dir, SNAPSHOT_FILE);
  try {
    return { path, state: (await readSnapshot(dir)) ? 'ok' : 'absent' };
  } catch (err) {
    if (!isMeshError(err) || err.code !== 'MESH_ERR_STORE_CORRUPT' || !discard) throw err;
    const backup = `${path}.corrupt-${stamp}`;
    try {
      await rename(path, backup);
      await fsyncDir(dir);
    } catch (e) {
      throw storeIoError(`cannot set ${path} aside`, e);
    }
    return { path, state: 'set-aside', reason: err.message, backup };
  }
}

async function repairJournal(dir: string, stamp: string): Promise<RepairReport['journal']> {
  const path = join(dir, JOURNAL_FILE);
  let buf: Buffer;
  try { buf = await readFile(path); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storeIoError(`cannot read journal ${path}`, err);
    return { path, present: false, bytes: 0, records: 0, keptBytes: 0, damaged: [], tornTailBytes: 0, rewritten: false };
  }
  const scan = scanFrames(buf);
  const kept = Buffer.concat(scan.kept.map((r) => buf.subarray(r.start, r.end)));
  const report = {
    path, present: true, bytes: buf.length, records: scan.records, keptBytes: kept.length,
    damaged: scan.damaged, tornTailBytes: scan.tornTailBytes, rewritten: false,
  };
  if (kept.length === buf.length) return report;
  const backup = `${path}.corrupt-${stamp}`;
  try {
    // COPYFILE_EXCL: a backup is never overwritten, not even by a second repair within the same millisecond.
    await copyFile(path, backup, constants.COPYFILE_EXCL);
    const fh = await open(backup, constants.O_RDONLY);
    try { await fh.sync(); } finally { await fh.close(); }
    await replaceFileDurably(path, kept);
  } catch (err) {
    throw storeIoError(`cannot repair journal ${path}`, err);
  }
  return { ...report, rewritten: true, backup };
}
