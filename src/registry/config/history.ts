// The versions of the central config a store keeps, oldest first, for `mesh config history` and rollback.
// A version number is the store's index of the write that made it (embedded: the journal index; etcd: the
// revision), so it orders with every other registry change. Both stores keep the newest HISTORY_LIMIT versions.
import type { CentralConfig } from '../../config/central.js';

export const HISTORY_LIMIT = 50;

export interface ConfigVersion {
  version: number;
  /** Epoch ms of the write. */
  at: number;
  /** What made it: `apply`, `authz apply`, `delete <service>`, `rollback to <n>`. */
  change: string;
  config: CentralConfig;
}

export class ConfigHistory {
  private versions: ConfigVersion[] = [];
  private readonly listeners = new Set<(v: ConfigVersion) => void>();

  constructor(private readonly onListenerError: (err: Error) => void = () => {}) {}

  current(): ConfigVersion | undefined { return this.versions[this.versions.length - 1]; }

  get(version: number): ConfigVersion | undefined { return this.versions.find((v) => v.version === version); }

  list(): ConfigVersion[] { return [...this.versions]; }

  /** Versions that fell out of the kept window (an etcd writer deletes their keys). */
  beyondLimit(extra = 0): ConfigVersion[] {
    return this.versions.slice(0, Math.max(0, this.versions.length + extra - HISTORY_LIMIT));
  }

  /** Replaces everything (a snapshot, an etcd range read); announces the newest if it is new. */
  load(versions: ConfigVersion[]): void {
    const before = this.current()?.version;
    this.versions = [...versions].sort((a, b) => a.version - b.version).slice(-HISTORY_LIMIT);
    const now = this.current();
    if (now !== undefined && now.version !== before) this.emit(now);
  }

  /** Adds a version (ignored when already known: an etcd history key repeats a version we have). */
  add(v: ConfigVersion, announce = true): void {
    if (this.versions.some((x) => x.version === v.version)) return;
    this.versions.push(v);
    this.versions.sort((a, b) => a.version - b.version);
    if (this.versions.length > HISTORY_LIMIT) this.versions.splice(0, this.versions.length - HISTORY_LIMIT);
    if (announce && this.current() === v) this.emit(v);
  }

  subscribe(listener: (v: ConfigVersion) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(v: ConfigVersion): void {
    for (const l of this.listeners) {
      try { l(v); } catch (err) { this.onListenerError(err as Error); }
    }
  }
}
