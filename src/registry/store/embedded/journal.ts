// The registry's append-only journal. Each record is framed as [u32 length][u32 crc32][JSON payload] (little
// endian, see journal-frames.ts), so a record torn by a crash is detected on replay and cut off instead of being
// misread, and damage in the middle of the file is told apart from a torn tail and refused. Writes use group
// commit: while one write+fdatasync is in flight, new records queue up and go out together in the next one, so
// the fsync cost is shared and nobody's promise resolves before its record is on disk.
import { constants, type promises as fsp } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeshError } from '../../../core/errors.js';
import { fsyncDir } from '../durable-file.js';
import { decodeRecords, encodeRecord, nextFrame } from './journal-frames.js';

export { decodeRecords, encodeRecord } from './journal-frames.js';

export interface ReplayStats {
  /** Valid records read. */
  records: number;
  /** Bytes of a torn tail that were cut off (unacknowledged writes from a crash). */
  skippedBytes: number;
}

interface Pending { buf: Buffer; resolve: (end: number) => void; reject: (err: Error) => void }

/** Damage followed by valid records: never cut, never skipped; the user decides (repair keeps a backup). */
export function journalCorrupt(path: string, offset: number, resumesAt: number): MeshError {
  return new MeshError('MESH_ERR_STORE_CORRUPT',
    `journal ${path} is damaged at byte ${offset} (${resumesAt - offset} unreadable bytes, valid records follow at byte ${resumesAt}); the file was left untouched`,
    { hint: `run \`mesh registry repair --data-dir ${dirname(path)}\` to back it up and keep every readable record` });
}

export function storeIoError(what: string, err: unknown): MeshError {
  const e = err as NodeJS.ErrnoException;
  return new MeshError('MESH_ERR_STORE_IO', `${what}: ${e?.code ?? ''}${e?.code ? ' ' : ''}${e?.message ?? String(err)}`.trim(), { cause: err });
}

export class Journal {
  /** Physical size of the current file. */
  private size: number;
  /** Bytes dropped from the front by rewrites, so offsets handed out stay comparable across rewrites. */
  private base = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private paused = false;
  private failure: MeshError | null = null;
  private closed = false;
  recordCount: number;

  private constructor(readonly path: string, private fh: fsp.FileHandle, size: number, records: number) {
    this.size = size;
    this.recordCount = records;
  }

  /**
   * Opens (creating if needed) and replays the journal: onRecord sees every valid record in order. A torn tail
   * (bad bytes with no valid frame after them) is truncated, so a crash mid-write never blocks a start; bad bytes
   * followed by a valid frame are damage to acknowledged records and throw MESH_ERR_STORE_CORRUPT, file untouched.
   */
  static async open(path: string, onRecord: (record: unknown) => void): Promise<{ journal: Journal; stats: ReplayStats }> {
    let fh: fsp.FileHandle;
    let created = false;
    try {
      fh = await open(path, constants.O_RDWR);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storeIoError(`cannot open journal ${path}`, err);
      try { fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600); created = true; }
      catch (e) { throw storeIoError(`cannot create journal ${path}`, e); }
    }
    try {
      if (created) await fsyncDir(dirname(path));
      const buf = await fh.readFile();
      const { end, records } = decodeRecords(buf, onRecord);
      const skippedBytes = buf.length - end;
      if (skippedBytes > 0) {
        const resumesAt = nextFrame(buf, end + 1);
        if (resumesAt >= 0) throw journalCorrupt(path, end, resumesAt);
        await fh.truncate(end);
        await fh.datasync();
      }
      return { journal: new Journal(path, fh, end, records), stats: { records, skippedBytes } };
    } catch (err) {
      await fh.close().catch(() => {});
      if (err instanceof MeshError) throw err;
      throw storeIoError(`cannot replay journal ${path}`, err);
    }
  }

  /** Size of the current journal file. */
  get bytes(): number { return this.size; }
  /** Logical end offset: grows monotonically across rewrites, like the offsets append() resolves to. */
  get end(): number { return this.base + this.size; }
  get failed(): MeshError | null { return this.failure; }

  /** Appends one record; resolves with the record's logical end offset once it is fsynced. */
  append(record: object): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new MeshError('MESH_ERR_STORE_IO', `journal ${this.path} is closed`));
    const buf = encodeRecord(record);
    return new Promise((resolve, reject) => {
      this.queue.push({ buf, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing || this.paused || this.queue.length === 0) return;
    this.flushing = this.flushLoop().finally(() => { this.flushing = null; this.kick(); });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && !this.paused && !this.failure) {
      const batch = this.queue;
      this.queue = [];
      const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
      try {
        let done = 0;
        while (done < buf.length) {
          const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, this.size + done);
          done += bytesWritten;
        }
        await this.fh.datasync();
      } catch (err) {
        // After a failed write or fsync the file's state is unknown (fsync errors are not retryable on Linux), so
        // the journal refuses every further write; replay at the next start cuts any torn tail.
        this.failure = storeIoError(`cannot write journal ${this.path}`, err);
        for (const p of batch) p.reject(this.failure);
        for (const p of this.queue.splice(0)) p.reject(this.failure);
        return;
      }
      let end = this.base + this.size;
      this.size += buf.length;
      this.recordCount += batch.length;
      for (const p of batch) { end += p.buf.length; p.resolve(end); }
    }
  }

  /** Resolves once nothing is in flight (queued writes may still wait if paused). */
  private async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /**
   * Replaces the journal with a new file holding only the records after logical offset `cut` (the ones a fresh
   * snapshot does not cover). Writes are held for the copy only; the new file is fsynced and renamed over the
   * old one, so a crash leaves either the old journal or the new one, never a mix.
   */
  async rewriteFrom(cut: number): Promise<void> {
    if (this.failure) throw this.failure;
    this.paused = true;
    const tmp = `${this.path}.tmp`;
    try {
      await this.idle();
      const physical = cut - this.base;
      if (physical < 0 || physical > this.size) throw new MeshError('MESH_ERR_INTERNAL', `journal cut ${cut} outside the file`);
      const tail = Buffer.allocUnsafe(this.size - physical);
      if (tail.length > 0) await this.fh.read(tail, 0, tail.length, physical);
      const fresh = await open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
      try {
        await fresh.writeFile(tail);
        await fresh.datasync();
        await rename(tmp, this.path);
      } catch (err) {
        await fresh.close().catch(() => {});
        await unlink(tmp).catch(() => {});
        throw storeIoError(`cannot rewrite journal ${this.path}`, err);
      }
      // From here the new file is the journal, whatever happens next.
      const old = this.fh;
      this.fh = fresh;
      this.base += physical;
      this.size = tail.length;
      this.recordCount = decodeRecords(tail, () => {}).records;
      await old.close().catch(() => {});
      try { await fsyncDir(dirname(this.path)); } catch (err) {
        this.failure = storeIoError(`cannot fsync the directory of ${this.path}`, err);
        throw this.failure;
      }
    } finally {
      this.paused = false;
      this.kick();
    }
  }

  /** Waits for queued records to be written, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle();
    await this.fh.close().catch(() => {});
  }
}

/** Reads a journal file without modifying it (for tools and tests). */
export async function readJournal(path: string): Promise<{ records: unknown[]; skippedBytes: number }> {
  const buf = await readFile(path);
  const records: unknown[] = [];
  const { end } = decodeRecords(buf, (r) => records.push(r));
  return { records, skippedBytes: buf.length - end };
}
