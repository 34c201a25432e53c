// The registry's single-machine store: state in memory, every change journaled (fsync'd, group-committed) before
// its promise resolves and before subscribers hear of it. Reads see only durable state: a change waits in
// `staged` while its record is on its way to disk, so later writes to the same instance build on it.
import { join } from 'node:path';
import { MeshError } from '../../../core/errors.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import type { HealthState, Instance, InstanceSpec } from '../../../core/types.js';
import { EMPTY_CENTRAL, type CentralConfig } from '../../../config/central.js';
import { ConfigHistory, type ConfigVersion } from '../../config/history.js';
import { ensureDataDir } from './data-dir.js';
import { FileTokenStore } from '../../identity/token-store.js';
import { Journal } from './journal.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';
import { ByService } from '../../catalogue/by-service.js';
import { hasActiveCheck, initialHealth, sameSpec, specOf } from '../../catalogue/instance-spec.js';
import type { RegistryStore, StoreEvent, StoreStatus } from '../store.js';

export interface EmbeddedStoreOptions {
  dataDir: string;
  clock?: Clock;
  log?: (line: string) => void;
  /** Compact the journal into a snapshot after this many records (default 10,000) … */
  compactAfterRecords?: number;
  /** … or this many bytes (default 8 MiB). */
  compactAfterBytes?: number;
}

type JournalRecord =
  | { i: number; op: 'put'; inst: Instance }
  | { i: number; op: 'del'; service: string; id: string; reason: string }
  | { i: number; op: 'config'; at: number; change: string; config: CentralConfig };
type InstanceRecord = Exclude<JournalRecord, { op: 'config' }>;

interface Staged { inst: Instance | undefined; durable: Promise<unknown> }

const DONE = Promise.resolve();
const keyOf = (service: string, id: string) => `${service}/${id}`;

/** Instances are immutable values: a change makes a new object, so handing them out never leaks mutation. */
function freeze(inst: Instance): Instance {
  Object.freeze(inst.tags);
  if (inst.check) Object.freeze(inst.check);
  for (const k of Object.keys(inst) as (keyof Instance)[]) if (inst[k] === undefined) delete inst[k];
  return Object.freeze(inst);
}

export class EmbeddedStore implements RegistryStore {
  private readonly dataDir: string;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly compactAfterBytes: number;
  private compactAfterRecords: number;
  private readonly services = new ByService<Instance>();
  private readonly staged = new Map<string, Staged>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private journal: Journal | undefined;
  private lock: DataDirLock | undefined;
  private committedIndex = 0;
  private committedOffset = 0;
  private nextIndex = 0;
  private snapshotIndex = 0;
  private replayMs = 0;
  private skippedBytes = 0;
  private compaction: Promise<void> | null = null;
  private closing = false;
  readonly config: ConfigHistory;
  /** Config updates run one after another: each computes its version from the one before. */
  private configChain: Promise<unknown> = DONE;
  readonly tokens: FileTokenStore;

  constructor(opts: EmbeddedStoreOptions) {
    this.dataDir = opts.dataDir;
    this.tokens = new FileTokenStore(opts.dataDir);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.compactAfterRecords = opts.compactAfterRecords ?? 10_000;
    this.compactAfterBytes = opts.compactAfterBytes ?? 8 * 1024 * 1024;
    this.config = new ConfigHistory((err) => this.log(`store: a config subscriber failed: ${err.message}`));
  }

  async open(): Promise<void> {
    ensureDataDir(this.dataDir);
    this.lock = await acquireLock(this.dataDir, { log: (line) => this.log(`lock: ${line}`) });
    try {
      await this.tokens.load();
      const started = performance.now();
      const snapshot = await readSnapshot(this.dataDir);
      if (snapshot) {
        for (const inst of snapshot.instances) this.applyPut(freeze(inst));
        this.config.load(snapshot.config ?? []);
        this.snapshotIndex = this.committedIndex = snapshot.index;
      }
      const { journal, stats } = await Journal.open(join(this.dataDir, 'journal.log'), (r) => this.replay(r as JournalRecord));
      this.journal = journal;
      this.committedOffset = journal.end;
      this.nextIndex = this.committedIndex;
      this.replayMs = performance.now() - started;
      this.skippedBytes = stats.skippedBytes;
      if (stats.skippedBytes > 0) {
        this.log(`journal: cut ${stats.skippedBytes} bytes of a torn write at the end of ${journal.path} (unacknowledged records from a crash)`);
      }
      this.log(`store: loaded ${this.count()} instances at index ${this.committedIndex} from ${this.dataDir} in ${this.replayMs.toFixed(1)} ms (snapshot index ${this.snapshotIndex}, ${stats.records} journal records)`);
      this.maybeCompact();
    } catch (err) {
      await this.journal?.close();
      this.lock.release();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.compaction;
    await this.journal?.close();
    this.lock?.release();
    this.listeners.clear();
  }

  status(): StoreStatus {
    const failed = this.journal?.failed;
    return {
      kind: 'embedded',
      index: this.committedIndex,
      readOnly: Boolean(failed),
      ...(failed ? { reason: failed.message } : {}),
      details: {
        dataDir: this.dataDir,
        journalBytes: this.journal?.bytes ?? 0,
        journalRecords: this.journal?.recordCount ?? 0,
        snapshotIndex: this.snapshotIndex,
        replayMs: Math.round(this.replayMs * 10) / 10,
        skippedBytes: this.skippedBytes,
        instances: this.count(),
      },
    };
  }

  currentIndex(): number { return this.committedIndex; }

  list(): Instance[] { return this.services.sortedAll(); }

  listService(service: string): Instance[] { return this.services.sorted(service) ?? []; }

  get(service: string, id: string): Instance | undefined {
    return this.services.get(service, id);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  upsert(raw: InstanceSpec): Promise<Instance> {
    const spec = specOf(raw);
    const cur = this.view(spec.service, spec.id);
    const prev = cur.inst;
    if (prev && sameSpec(prev, spec)) return cur.durable.then(() => this.get(spec.service, spec.id) ?? prev);
    const index = ++this.nextIndex;
    const now = this.clock.now();
    const health = initialHealth(prev, spec, now);
    const inst = freeze({ ...spec, ...health, registeredAt: prev?.registeredAt ?? now, createIndex: prev?.createIndex ?? index, modifyIndex: index });
    return this.persist(keyOf(spec.service, spec.id), inst, { i: index, op: 'put', inst }) as Promise<Instance>;
  }

  remove(service: string, id: string, reason: string, stillDue?: (current: Instance) => boolean): Promise<boolean> {
    const inst = this.view(service, id).inst;
    if (!inst || (stillDue && !stillDue(inst))) return Promise.resolve(false);
    const index = ++this.nextIndex;
    return this.persist(keyOf(service, id), undefined, { i: index, op: 'del', service, id, reason }).then(() => true);
  }

  setHealth(service: string, id: string, health: HealthState, output?: string, stillDue?: (current: Instance) => boolean): Promise<Instance | undefined> {
    const inst = this.view(service, id).inst;
    if (inst && stillDue && !stillDue(inst)) return Promise.resolve(inst);
    return this.changeHealth(service, id, health, output, health === 'passing');
  }

  heartbeat(service: string, id: string, health?: HealthState, output?: string): Promise<Instance | undefined> {
    const inst = this.view(service, id).inst;
    if (!inst) return Promise.resolve(undefined);
    // A bare heartbeat renews a TTL (and so heals a TTL expiry); it does not override an active check's verdict.
    const keep = health === undefined && hasActiveCheck(inst.check);
    return this.changeHealth(service, id, keep ? inst.health : health ?? 'passing', keep ? inst.healthOutput : output, true);
  }

  updateConfig(change: string, next: (current: CentralConfig) => CentralConfig | undefined): Promise<ConfigVersion | undefined> {
    const run = this.configChain.then(async () => {
      const journal = this.journal;
      if (!journal) throw new MeshError('MESH_ERR_STORE_IO', 'the store is not open');
      if (this.closing) throw new MeshError('MESH_ERR_STORE_IO', 'the store is closing');
      const current = this.config.current();
      const config = next(current?.config ?? EMPTY_CENTRAL);
      if (config === undefined) return current;
      const record: JournalRecord = { i: ++this.nextIndex, op: 'config', at: this.clock.now(), change, config };
      const end = await journal.append(record);
      this.committedIndex = record.i;
      this.committedOffset = end;
      const version = configVersionOf(record);
      this.config.add(version);
      this.maybeCompact();
      return version;
    });
    this.configChain = run.catch(() => undefined);
    return run;
  }

  private changeHealth(service: string, id: string, health: HealthState, output: string | undefined, beat: boolean): Promise<Instance | undefined> {
    const cur = this.view(service, id);
    const prev = cur.inst;
    if (!prev) return Promise.resolve(undefined);
    const now = this.clock.now();
    if (prev.health === health && prev.healthOutput === output) {
      // Same verdict: only the heartbeat time moves, in memory (restarts re-arm TTLs from the start time anyway).
      return cur.durable.then(() => (beat ? this.touch(service, id, now) : this.get(service, id)));
    }
    const index = ++this.nextIndex;
    const inst = freeze({
      ...prev, health, healthOutput: output, modifyIndex: index,
      lastHeartbeat: beat ? now : prev.lastHeartbeat,
      criticalSince: health !== 'critical' ? undefined : prev.health === 'critical' ? prev.criticalSince : now,
    });
    return this.persist(keyOf(service, id), inst, { i: index, op: 'put', inst }) as Promise<Instance>;
  }

  private touch(service: string, id: string, now: number): Instance | undefined {
    const inst = this.services.get(service, id);
    if (!inst) return undefined;
    const beaten = freeze({ ...inst, lastHeartbeat: now });
    this.services.set(service, beaten);
    return beaten;
  }

  /** The state a new write builds on: the newest staged change, else the committed one. */
  private view(service: string, id: string): Staged {
    return this.staged.get(keyOf(service, id)) ?? { inst: this.get(service, id), durable: DONE };
  }

  private persist(key: string, inst: Instance | undefined, record: InstanceRecord): Promise<Instance | undefined> {
    const journal = this.journal;
    if (!journal) return Promise.reject(new MeshError('MESH_ERR_STORE_IO', 'the store is not open'));
    if (this.closing) return Promise.reject(new MeshError('MESH_ERR_STORE_IO', 'the store is closing'));
    const unstage = () => { if (this.staged.get(key)?.durable === durable) this.staged.delete(key); };
    const durable: Promise<Instance | undefined> = journal.append(record).then((end) => {
      unstage();
      const stored = this.apply(record);
      this.committedIndex = record.i;
      this.committedOffset = end;
      const event: StoreEvent = record.op === 'put'
        ? { type: 'upsert', index: record.i, instance: stored! }
        : { type: 'remove', index: record.i, service: record.service, id: record.id, reason: record.reason };
      for (const listener of this.listeners) {
        try { listener(event); } catch (err) { this.log(`store: a subscriber failed: ${(err as Error).message}`); }
      }
      this.maybeCompact();
      return stored;
    }, (err) => { unstage(); throw err; });
    this.staged.set(key, { inst, durable });
    return durable;
  }

  private replay(record: JournalRecord): void {
    if (typeof record?.i !== 'number' || record.i <= this.snapshotIndex) return;
    if (record.op === 'put') this.applyPut(freeze(record.inst));
    else if (record.op === 'del') this.apply(record);
    else if (record.op === 'config') this.config.add(configVersionOf(record), false);
    this.committedIndex = Math.max(this.committedIndex, record.i);
  }

  private apply(record: JournalRecord): Instance | undefined {
    if (record.op === 'put') return this.applyPut(record.inst);
    if (record.op === 'config') return undefined;
    this.services.delete(record.service, record.id);
    return undefined;
  }

  private applyPut(inst: Instance): Instance {
    const prev = this.services.get(inst.service, inst.id);
    // A heartbeat that landed while this change was being written is newer than the change's copy of it.
    const stored = prev?.lastHeartbeat !== undefined && (inst.lastHeartbeat ?? 0) < prev.lastHeartbeat && inst.health === 'passing'
      ? freeze({ ...inst, lastHeartbeat: prev.lastHeartbeat })
      : inst;
    this.services.set(inst.service, stored);
    return stored;
  }

  private count(): number {
    return this.services.count();
  }

  private maybeCompact(): void {
    const journal = this.journal;
    if (!journal || this.compaction || this.closing) return;
    if (journal.recordCount < this.compactAfterRecords && journal.bytes < this.compactAfterBytes) return;
    this.compaction = this.compact(journal)
      .catch((err: Error) => {
        // Not fatal: the journal still holds everything. Back off so a full disk is not retried on every write.
        this.compactAfterRecords = journal.recordCount + this.compactAfterRecords;
        this.log(`store: compaction failed, will retry later: ${err.message}`);
      })
      .finally(() => { this.compaction = null; });
  }

  private async compact(journal: Journal): Promise<void> {
    const started = performance.now();
    const index = this.committedIndex;
    const cut = this.committedOffset;
    await writeSnapshot(this.dataDir, { index, instances: this.list(), config: this.config.list() });
    this.snapshotIndex = index;
    await journal.rewriteFrom(cut);
    this.log(`store: compacted the journal into a snapshot at index ${index} in ${(performance.now() - started).toFixed(1)} ms`);
  }
}

function configVersionOf(record: Extract<JournalRecord, { op: 'config' }>): ConfigVersion {
  return { version: record.i, at: record.at, change: record.change, config: record.config };
}
