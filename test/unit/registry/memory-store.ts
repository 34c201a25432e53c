// A tiny in-memory RegistryStore for unit tests of the API server and watch hub (tests only).
import type { HealthState, Instance, InstanceSpec } from '../../../src/core/types.js';
import type { RegistryStore, StoreEvent, StoreStatus } from '../../../src/registry/store/store.js';
import { EMPTY_CENTRAL, type CentralConfig } from '../../../src/config/central.js';
import { ConfigHistory, type ConfigVersion } from '../../../src/registry/config/history.js';
import { MemoryTokenStore } from '../../../src/registry/identity/token-store.js';

export class MemoryStore implements RegistryStore {
  index = 0;
  private readonly items = new Map<string, Instance>();
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  now = 1_700_000_000_000;
  readonly config = new ConfigHistory();

  async updateConfig(change: string, next: (current: CentralConfig) => CentralConfig | undefined): Promise<ConfigVersion | undefined> {
    const current = this.config.current();
    const config = next(current?.config ?? EMPTY_CENTRAL);
    if (config === undefined) return current;
    const version = { version: ++this.index, at: this.now, change, config };
    this.config.add(version);
    return version;
  }
  readonly tokens = new MemoryTokenStore();

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  status(): StoreStatus {
    return { kind: 'embedded', index: this.index, readOnly: false, details: { dataDir: '(memory)' } };
  }
  currentIndex(): number { return this.index; }
  list(): Instance[] {
    return [...this.items.values()].sort((a, b) => (a.service + '\0' + a.id < b.service + '\0' + b.id ? -1 : 1));
  }
  listService(service: string): Instance[] { return this.list().filter((i) => i.service === service); }
  get(service: string, id: string): Instance | undefined { return this.items.get(`${service}/${id}`); }
  async upsert(spec: InstanceSpec): Promise<Instance> {
    const key = `${spec.service}/${spec.id}`;
    const old = this.items.get(key);
    if (old !== undefined && JSON.stringify(specOf(old)) === JSON.stringify(spec)) return old;
    const index = ++this.index;
    const inst: Instance = {
      ...spec,
      health: spec.check?.ttlMs !== undefined || spec.check?.http !== undefined || spec.check?.tcp !== undefined ? 'critical' : 'passing',
      registeredAt: old?.registeredAt ?? this.now,
      createIndex: old?.createIndex ?? index,
      modifyIndex: index,
    };
    this.items.set(key, inst);
    this.emit({ type: 'upsert', index, instance: inst });
    return inst;
  }
  async remove(service: string, id: string, reason: string): Promise<boolean> {
    if (!this.items.delete(`${service}/${id}`)) return false;
    this.emit({ type: 'remove', index: ++this.index, service, id, reason });
    return true;
  }
  async setHealth(service: string, id: string, health: HealthState, output?: string): Promise<Instance | undefined> {
    const old = this.get(service, id);
    if (old === undefined) return undefined;
    if (old.health === health) return old;
    const inst: Instance = { ...old, health, modifyIndex: ++this.index };
    if (output !== undefined) inst.healthOutput = output;
    this.items.set(`${service}/${id}`, inst);
    this.emit({ type: 'upsert', index: inst.modifyIndex, instance: inst });
    return inst;
  }
  async heartbeat(service: string, id: string, health: HealthState = 'passing', output?: string): Promise<Instance | undefined> {
    const inst = await this.setHealth(service, id, health, output);
    if (inst !== undefined) inst.lastHeartbeat = this.now;
    return inst;
  }
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
  private emit(e: StoreEvent): void {
    for (const l of this.listeners) l(e);
  }
}

function specOf(i: Instance): InstanceSpec {
  const { health: _h, healthOutput: _o, registeredAt: _r, lastHeartbeat: _l, criticalSince: _c, createIndex: _ci, modifyIndex: _mi, ...spec } = i;
  return spec;
}
