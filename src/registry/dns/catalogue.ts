// The DNS front end's view of the catalogue: it follows the watch hub like any watcher (a `reset`, then
// upserts and removes, delivered synchronously as the store applies them), so a health change is in the next
// answer, and it never reads the store. Each instance is kept in the form answers need: its address split and
// classified once, its tags as DNS lookup keys.
import { isIPv4, isIPv6 } from 'node:net';
import type { HealthState, Instance, WatchEvent } from '../../core/types.js';
import { parseHostPort } from '../../core/validate.js';
import { ByService } from '../catalogue/by-service.js';
import type { WatchHub } from '../catalogue/watch-hub.js';
import { addrLabel, tagLabel } from './names.js';

export interface DnsInstance {
  readonly id: string;
  /** IP address or host name, without brackets. */
  readonly host: string;
  readonly port: number;
  /** 4 or 6 for an IP address, 0 for a host name. */
  readonly family: 4 | 6 | 0;
  readonly weight: number;
  readonly priority: number;
  readonly health: HealthState;
  /** `<value>.<key>` of every tag that has a DNS name (see names.ts). */
  readonly tags: ReadonlySet<string>;
  /** The tag keys among those, for the empty non-terminal `<key>.<service>.service.<domain>`. */
  readonly tagKeys: ReadonlySet<string>;
  /** The SRV target: `<hex>.addr` (the caller appends the domain) or the host name. */
  readonly target: string;
}

export class DnsCatalogue {
  private readonly services = new ByService<DnsInstance>();
  /** Per-service arrays, rebuilt on first use after a change, so a query does not copy a map. */
  private readonly arrays = new Map<string, readonly DnsInstance[]>();
  private index = 0;
  private changes = 0;
  private readonly unsubscribe: () => void;

  constructor(hub: WatchHub) {
    const handle = hub.watch({}, { send: (event) => this.apply(event), close: () => {} });
    this.unsubscribe = () => handle.unsubscribe();
  }

  /** The catalogue index of the newest change seen (the SOA serial). */
  get serial(): number {
    return this.index;
  }

  /** Bumped by every change: what is derived from the view (resolve.ts caches) is stale once it moves. */
  get version(): number {
    return this.changes;
  }

  /** The instances of a service, in any health, sorted by id; undefined when the service is unknown. */
  instances(service: string): readonly DnsInstance[] | undefined {
    let list = this.arrays.get(service);
    if (list !== undefined) return list;
    list = this.services.sorted(service);
    if (list === undefined) return undefined;
    this.arrays.set(service, list);
    return list;
  }

  close(): void {
    this.unsubscribe();
  }

  private apply(event: WatchEvent): void {
    this.index = event.index;
    this.changes++;
    if (event.type === 'reset') {
      this.services.clear();
      this.arrays.clear();
      for (const inst of event.instances) this.put(inst);
    } else if (event.type === 'upsert') {
      this.put(event.instance);
    } else {
      this.services.delete(event.service, event.id);
      this.arrays.delete(event.service);
    }
  }

  private put(inst: Instance): void {
    this.services.set(inst.service, toDnsInstance(inst));
    this.arrays.delete(inst.service);
  }
}

export function toDnsInstance(inst: Instance): DnsInstance {
  const { host, port } = parseHostPort(inst.address);
  const family = isIPv4(host) ? 4 : isIPv6(host) ? 6 : 0;
  const tags = new Set<string>();
  const tagKeys = new Set<string>();
  for (const [k, v] of Object.entries(inst.tags)) {
    const label = tagLabel(k, v);
    if (label === undefined) continue;
    tags.add(label);
    tagKeys.add(k.toLowerCase());
  }
  return {
    id: inst.id, host, port, family, weight: inst.weight, priority: inst.priority, health: inst.health, tags, tagKeys,
    target: family === 0 ? host.toLowerCase() : `${addrLabel(host, family)}.addr`,
  };
}
