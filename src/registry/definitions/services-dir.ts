// `mesh registry start --services-dir <dir>`: the instances defined by the files of a directory, kept in the
// registry. Loaded at start, reloaded when a file changes and on SIGHUP. Each reload reads every file, keeps
// the previous version of any file that is now invalid (one log line names the file and the field), and then
// brings the store in line: instances defined now are registered (a no-op when unchanged), instances that
// point at a file of this directory but are no longer defined there are removed. The store is the record of
// what was loaded (instances carry `definedIn`), so a definition deleted while the daemon was down is removed
// at the next start.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { MeshError } from '../../core/errors.js';
import type { InstanceSpec } from '../../core/types.js';
import { sameSpec } from '../catalogue/instance-spec.js';
import type { RegistryStore } from '../store/store.js';
import { isDefinitionFile, parseDefinitions } from './parse.js';
import { listingSignature, watchDirectory, type DirWatch } from './watch-dir.js';

export interface ServicesDirOptions {
  dir: string;
  store: RegistryStore;
  log: (line: string) => void;
  /** After a failed store write (a read-only etcd), the reload is tried again after this long (ms). */
  retryMs?: number;
  /** Quiet time after a file event before reloading (ms). */
  debounceMs?: number;
}

const keyOf = (s: { service: string; id: string }) => `${s.service}/${s.id}`;

export class ServicesDir {
  private readonly dir: string;
  /** The accepted definitions of each file (absolute path), as of the last reload. */
  private accepted = new Map<string, InstanceSpec[]>();
  /** The refusal last logged for each file, so an unchanged bad file is not reported on every reload. */
  private refusals = new Map<string, string>();
  private running: Promise<void> | undefined;
  private again = false;
  private watch: DirWatch | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: ServicesDirOptions) {
    this.dir = resolve(opts.dir);
  }

  /** Loads the directory (which must exist) into the store and starts following it. */
  static async open(opts: ServicesDirOptions): Promise<ServicesDir> {
    const self = new ServicesDir(opts);
    const st = await stat(self.dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new MeshError('MESH_ERR_CONFIG_INVALID', `--services-dir ${opts.dir}: no such directory`, { hint: 'create the directory or pass another --services-dir' });
    }
    const initial = await listingSignature(self.dir);
    await self.reload();
    self.watch = watchDirectory(self.dir, initial, () => { void self.reload(); }, { debounceMs: opts.debounceMs ?? 100 });
    return self;
  }

  /** Reloads now; a reload asked for while one runs makes exactly one more run after it. */
  reload(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.reloadOnce();
        } while (this.again && !this.closed);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
    clearTimeout(this.retry);
    return this.running ?? Promise.resolve();
  }

  private async reloadOnce(): Promise<void> {
    if (this.closed) return;
    const next = await this.readAll();
    this.accepted = next;
    const desired = new Map<string, InstanceSpec>();
    for (const [path, specs] of next) for (const spec of specs) desired.set(keyOf(spec), { ...spec, definedIn: path });
    let registered = 0;
    let removed = 0;
    const failures: string[] = [];
    const store = this.opts.store;
    for (const spec of desired.values()) {
      const cur = store.get(spec.service, spec.id);
      if (cur && sameSpec(cur, spec)) continue;
      await store.upsert(spec).then(() => { registered++; }, (err: Error) => { failures.push(`${keyOf(spec)}: ${err.message}`); });
    }
    const mine = `${this.dir}${sep}`;
    for (const inst of store.list()) {
      if (inst.definedIn === undefined || !inst.definedIn.startsWith(mine) || desired.has(keyOf(inst))) continue;
      await store.remove(inst.service, inst.id, `no longer defined in ${inst.definedIn}`)
        .then(() => { removed++; }, (err: Error) => { failures.push(`${keyOf(inst)}: ${err.message}`); });
    }
    if (registered + removed > 0) {
      this.opts.log(`services-dir: ${next.size} file${next.size === 1 ? '' : 's'}, ${desired.size} instance${desired.size === 1 ? '' : 's'} (${registered} registered or updated, ${removed} removed)`);
    }
    if (failures.length > 0 && !this.closed) {
      const retryMs = this.opts.retryMs ?? 5_000;
      this.opts.log(`services-dir: cannot apply ${failures.length} change${failures.length === 1 ? '' : 's'} (${failures[0]}); retrying in ${retryMs} ms`);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => { void this.reload(); }, retryMs);
      this.retry.unref();
    }
  }

  /** Every file's definitions: the new version when valid, else the last accepted one (if any). */
  private async readAll(): Promise<Map<string, InstanceSpec[]>> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter(isDefinitionFile).sort();
    } catch (err) {
      this.refuse(this.dir, `services-dir: cannot read ${this.dir}: ${(err as Error).message}; its instances are removed until it returns`);
      return new Map();
    }
    const next = new Map<string, InstanceSpec[]>();
    const owner = new Map<string, string>();
    for (const name of names) {
      const path = join(this.dir, name);
      let specs: InstanceSpec[];
      try {
        specs = parseDefinitions(name, await readFile(path, 'utf8'));
        const taken = specs.find((s) => owner.has(keyOf(s)));
        if (taken) {
          throw new MeshError('MESH_ERR_CONFIG_INVALID', `${name}: id: instance ${keyOf(taken)} is already defined in ${basename(owner.get(keyOf(taken))!)}`);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed between the listing and the read
        const previous = this.accepted.get(path)?.filter((s) => !owner.has(keyOf(s)));
        const n = previous?.length ?? 0;
        const kept = n === 0 ? '' : n === 1 ? '; its previous instance stays' : `; its previous ${n} instances stay`;
        this.refuse(path, `services-dir: refused ${(err as Error).message}${kept}`);
        if (previous && previous.length > 0) {
          next.set(path, previous);
          for (const s of previous) owner.set(keyOf(s), path);
        }
        continue;
      }
      this.refusals.delete(path);
      next.set(path, specs);
      for (const s of specs) owner.set(keyOf(s), path);
    }
    for (const path of this.refusals.keys()) if (path !== this.dir && !names.includes(basename(path))) this.refusals.delete(path);
    this.refusals.delete(this.dir);
    return next;
  }

  private refuse(path: string, line: string): void {
    if (this.refusals.get(path) === line) return;
    this.refusals.set(path, line);
    this.opts.log(line);
  }
}
