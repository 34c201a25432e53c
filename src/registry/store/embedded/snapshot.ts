// Compaction: the full state written to `snapshot.json`, atomically replacing the previous one.
//
// Why a journal plus snapshot rather than an embedded database: the registry's state is small (10,000 instances
// is a few MiB), lives in memory anyway, and has one writer. What it needs from disk is "durable before we
// answer" and "a crash at any moment leaves a readable state". An fsync'd, CRC-framed append-only journal with
// group commit gives exactly that with one fdatasync per batch, and replay is a linear read. Node 20 has no
// built-in embedded database (node:sqlite is 22+), and a native one (LevelDB, SQLite bindings) would add a
// compiled dependency and its own recovery rules to a CLI that otherwise installs as plain JavaScript.
//
// Crash safety of a compaction, step by step (journal records carry the store index; replay skips records whose
// index is at or below the snapshot's):
//   1. snapshot.json.tmp written and fsynced  - crash: the old snapshot + full journal are still authoritative.
//   2. renamed to snapshot.json, dir fsynced  - crash: new snapshot + old journal; records ≤ index are skipped.
//   3. journal tail copied to a new file and renamed over the journal - crash: either journal is consistent.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../../../core/errors.js';
import type { Instance } from '../../../core/types.js';
import type { ConfigVersion } from '../../config/history.js';
import { replaceFileDurably } from '../durable-file.js';
import { storeIoError } from './journal.js';

export const SNAPSHOT_FILE = 'snapshot.json';
const FORMAT = 1;

export interface Snapshot {
  index: number;
  instances: Instance[];
  /** The central config's kept versions (absent in snapshots from before there was one). */
  config?: ConfigVersion[];
}

export async function writeSnapshot(dir: string, snapshot: Snapshot): Promise<void> {
  const path = join(dir, SNAPSHOT_FILE);
  const body = JSON.stringify({ format: FORMAT, index: snapshot.index, instances: snapshot.instances, ...(snapshot.config?.length ? { config: snapshot.config } : {}) });
  try {
    await replaceFileDurably(path, body);
  } catch (err) {
    throw storeIoError(`cannot write snapshot ${path}`, err);
  }
}

/** Reads the snapshot, or undefined if none was written yet. A corrupt snapshot is an error, never ignored. */
export async function readSnapshot(dir: string): Promise<Snapshot | undefined> {
  const path = join(dir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storeIoError(`cannot read snapshot ${path}`, err);
  }
  // The snapshot is only ever replaced by rename after an fsync, so it cannot be torn by a crash. If it does not
  // parse, the disk or a person damaged it; starting empty would silently drop every registration.
  let parsed: { format?: unknown; index?: unknown; instances?: unknown; config?: unknown };
  try { parsed = JSON.parse(text); } catch (err) {
    throw new MeshError('MESH_ERR_STORE_CORRUPT', `snapshot ${path} is corrupt (${(err as Error).message}); the file was left untouched`, {
      hint: `restore it from a backup, or run \`mesh registry repair --data-dir ${dir} --discard-snapshot\` to set it aside and keep only the journal's records`, cause: err,
    });
  }
  if (parsed.format !== FORMAT || typeof parsed.index !== 'number' || !Array.isArray(parsed.instances)) {
    throw new MeshError('MESH_ERR_STORE_IO', `snapshot ${path} has an unknown format`, {
      hint: 'it was written by another version of mesh; use that version, or restore a backup',
    });
  }
  return { index: parsed.index, instances: parsed.instances as Instance[], ...(Array.isArray(parsed.config) ? { config: parsed.config as ConfigVersion[] } : {}) };
}
