// Entries by service, then id: how every part of the registry holds its instances (both stores' catalogues, the
// health monitor's tracking, the DNS view). A map of maps rather than one map on "service/id": a lookup needs no
// key string built per event, a service's instances are at hand without a scan, and an emptied service is
// dropped. Listing is in a stable order, services then ids sorted, as the API answers.
export class ByService<T extends { readonly id: string }> {
  private readonly services = new Map<string, Map<string, T>>();

  get(service: string, id: string): T | undefined {
    return this.services.get(service)?.get(id);
  }

  set(service: string, entry: T): void {
    let ids = this.services.get(service);
    if (ids === undefined) this.services.set(service, (ids = new Map()));
    ids.set(entry.id, entry);
  }

  /** Whether there was an entry to remove. */
  delete(service: string, id: string): boolean {
    const ids = this.services.get(service);
    if (ids === undefined || !ids.delete(id)) return false;
    if (ids.size === 0) this.services.delete(service);
    return true;
  }

  clear(): void {
    this.services.clear();
  }

  /** Every entry, in no particular order. */
  *values(): IterableIterator<T> {
    for (const ids of this.services.values()) yield* ids.values();
  }

  /** How many entries there are in all. */
  count(): number {
    let n = 0;
    for (const ids of this.services.values()) n += ids.size;
    return n;
  }

  /** A service's entries sorted by id; undefined when the service has none. */
  sorted(service: string): T[] | undefined {
    const ids = this.services.get(service);
    return ids === undefined ? undefined : [...ids.values()].sort(byId);
  }

  /** Every entry, services sorted by name, each service's entries by id. */
  sortedAll(): T[] {
    return [...this.services.keys()].sort().flatMap((s) => this.sorted(s)!);
  }
}

function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
