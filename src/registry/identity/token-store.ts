// Where bootstrap tokens live: beside the instances, in the same store (so a registry restart or another
// etcd-backed daemon sees the same tokens). Only hashes are stored. `update` is a compare-and-swap so that two
// daemons (etcd) or two concurrent calls cannot both spend the last use of a token.
import { constants } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../../core/errors.js';
import { fsyncDir } from '../store/durable-file.js';
import { storeIoError } from '../store/embedded/journal.js';
import type { TokenRecord } from './tokens.js';

export interface TokenStore {
  list(): Promise<TokenRecord[]>;
  get(id: string): Promise<TokenRecord | undefined>;
  /** Stores a new token; durable before it resolves. */
  create(record: TokenRecord): Promise<void>;
  /**
   * Applies `change` to the current record atomically and durably; resolves the new record, or undefined when
   * there is no such token. A MeshError thrown by `change` (a refusal) propagates and nothing is written.
   */
  update(id: string, change: (current: TokenRecord) => TokenRecord): Promise<TokenRecord | undefined>;
}

const byId = (a: TokenRecord, b: TokenRecord) => (a.createdAt - b.createdAt) || (a.id < b.id ? -1 : 1);

/** Tokens in memory (tests, and the base of the file store). Changes are applied one at a time. */
export class MemoryTokenStore implements TokenStore {
  protected readonly tokens = new Map<string, TokenRecord>();
  #queue: Promise<unknown> = Promise.resolve();

  async list(): Promise<TokenRecord[]> { return [...this.tokens.values()].sort(byId); }
  async get(id: string): Promise<TokenRecord | undefined> { return this.tokens.get(id); }

  create(record: TokenRecord): Promise<void> {
    return this.serial(async () => {
      if (this.tokens.has(record.id)) throw new MeshError('MESH_ERR_INTERNAL', `token id ${record.id} already exists`);
      await this.commit(record.id, record);
    });
  }

  update(id: string, change: (current: TokenRecord) => TokenRecord): Promise<TokenRecord | undefined> {
    return this.serial(async () => {
      const cur = this.tokens.get(id);
      if (cur === undefined) return undefined;
      const next = change(cur);
      await this.commit(id, next);
      return next;
    });
  }

  /** Makes one change durable; the base class only keeps it in memory. */
  protected async commit(id: string, record: TokenRecord): Promise<void> {
    this.tokens.set(id, record);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

export const TOKENS_FILE = 'tokens.json';

/**
 * The embedded store's tokens: the whole set rewritten to <data-dir>/tokens.json (0600) on each change —
 * tokens are few and change only on create, revoke and first issuance — via temp file, fsync, rename and
 * directory fsync, so a crash leaves the old set or the new one. Its own file rather than journal records, so
 * journal compaction and replay stay about instances only.
 */
export class FileTokenStore extends MemoryTokenStore {
  readonly path: string;

  constructor(dataDir: string) {
    super();
    this.path = join(dataDir, TOKENS_FILE);
  }

  /** Reads the file (none yet = no tokens). A corrupt file is an error: starting empty would un-revoke tokens. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw storeIoError(`cannot read ${this.path}`, err);
    }
    let parsed: { tokens?: unknown };
    try { parsed = JSON.parse(text) as { tokens?: unknown }; } catch (err) {
      throw new MeshError('MESH_ERR_STORE_IO', `token file ${this.path} is corrupt (${(err as Error).message})`, { hint: 'restore it from a backup', cause: err });
    }
    if (!Array.isArray(parsed.tokens)) throw new MeshError('MESH_ERR_STORE_IO', `token file ${this.path} has an unknown format`);
    for (const t of parsed.tokens as TokenRecord[]) this.tokens.set(t.id, t);
  }

  protected override async commit(id: string, record: TokenRecord): Promise<void> {
    const next = new Map(this.tokens).set(id, record);
    const tmp = `${this.path}.tmp`;
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
      try {
        await fh.writeFile(`${JSON.stringify({ tokens: [...next.values()] })}\n`, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      await fsyncDir(join(this.path, '..'));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw storeIoError(`cannot write ${this.path}`, err);
    }
    this.tokens.set(id, record);
  }
}
