// Fans the store's change events out to watch streams, each filtered by the services it watches, and keeps a
// bounded ring of recent events so a client that reconnects with the last index it saw can be replayed what it
// missed instead of receiving the whole state again.
import type { Instance, WatchEvent } from '../../core/types.js';
import type { RegistryStore, StoreEvent } from '../store/store.js';

export interface WatchSubscriber {
  /** Receives events in index order; the first is a `reset` or the replay of missed events. */
  send(event: WatchEvent): void;
  /** The hub is closing (daemon shutdown): end the stream. */
  close(): void;
}

export interface WatchOptions {
  /** Only these services; all when empty or undefined. */
  services?: ReadonlySet<string>;
  /** The last index the client saw; events after it are replayed when the ring still holds all of them. */
  sinceIndex?: number;
}

export interface WatchHandle {
  /** Whether the watch started with a replay (true) or a `reset` (false). */
  resumed: boolean;
  unsubscribe(): void;
}

export class WatchHub {
  private readonly ring: (StoreEvent | undefined)[];
  private head = 0;
  private size = 0;
  /**
   * Events at or below this index are not (or no longer) in the ring: those from before the hub started and
   * those evicted. A resume from an index below it could miss events, so it gets a `reset` instead.
   */
  private floor: number;
  private readonly subscribers = new Map<WatchSubscriber, ReadonlySet<string> | undefined>();
  private readonly unsubscribeStore: () => void;
  private closed = false;

  constructor(private readonly store: RegistryStore, capacity = 10_000) {
    this.ring = new Array<StoreEvent | undefined>(Math.max(1, capacity));
    this.floor = store.currentIndex();
    this.unsubscribeStore = store.subscribe((event) => this.publish(event));
  }

  get watchers(): number {
    return this.subscribers.size;
  }

  /**
   * Starts a watch. The snapshot (or replay) and the subscription happen in the same synchronous step, and the
   * store delivers events synchronously, so no event can fall between them.
   */
  watch(opts: WatchOptions, subscriber: WatchSubscriber): WatchHandle {
    const filter = opts.services !== undefined && opts.services.size > 0 ? opts.services : undefined;
    const replay = opts.sinceIndex === undefined ? undefined : this.eventsAfter(opts.sinceIndex);
    if (replay === undefined) {
      subscriber.send({ type: 'reset', index: this.store.currentIndex(), instances: this.snapshot(filter) });
    } else {
      for (const event of replay) if (matches(event, filter)) subscriber.send(event);
    }
    if (this.closed) {
      subscriber.close();
      return { resumed: replay !== undefined, unsubscribe: () => {} };
    }
    this.subscribers.set(subscriber, filter);
    return { resumed: replay !== undefined, unsubscribe: () => { this.subscribers.delete(subscriber); } };
  }

  /** Ends every stream and stops listening to the store. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeStore();
    const subs = [...this.subscribers.keys()];
    this.subscribers.clear();
    for (const s of subs) s.close();
  }

  private publish(event: StoreEvent): void {
    const slot = (this.head + this.size) % this.ring.length;
    if (this.size === this.ring.length) {
      this.floor = this.ring[this.head]!.index;
      this.head = (this.head + 1) % this.ring.length;
    } else {
      this.size++;
    }
    this.ring[slot] = event;
    for (const [sub, filter] of this.subscribers) {
      if (!matches(event, filter)) continue;
      try {
        sub.send(event);
      } catch {
        // A broken stream must not stop the others; its own close handler unsubscribes it.
      }
    }
  }

  /** The buffered events after `since`, or undefined when some of them may be missing. */
  private eventsAfter(since: number): StoreEvent[] | undefined {
    if (!Number.isInteger(since) || since < this.floor || since > this.store.currentIndex()) return undefined;
    const out: StoreEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const event = this.ring[(this.head + i) % this.ring.length]!;
      if (event.index > since) out.push(event);
    }
    return out;
  }

  private snapshot(filter: ReadonlySet<string> | undefined): Instance[] {
    if (filter === undefined) return this.store.list();
    const out: Instance[] = [];
    for (const service of [...filter].sort()) out.push(...this.store.listService(service));
    return out;
  }
}

function matches(event: StoreEvent, filter: ReadonlySet<string> | undefined): boolean {
  if (filter === undefined) return true;
  return filter.has(event.type === 'upsert' ? event.instance.service : event.service);
}
