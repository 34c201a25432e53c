// Registry watch → endpoint table. The watcher reconnects by itself; this module only applies its updates and
// says, once per outage, that the proxy keeps routing on the last table it had — and again when it resumes.
import { resolvesWithin } from '../../core/within.js';
import { WatchLink } from './watch-link.js';
import type { RegistryClient, Watcher } from '../../registry/client.js';
import type { WatchEvent } from '../../core/types.js';

export interface DiscoveryStatus {
  url: string;
  connected: boolean;
  lastError?: string;
  /** Whether a first table (a reset) has arrived. */
  synced: boolean;
}

export class Discovery {
  private watcher: Watcher | undefined;
  private link: WatchLink | undefined;
  private synced = false;
  private readonly firstSync: Promise<void>;
  private resolveFirstSync!: () => void;

  constructor(
    private readonly client: RegistryClient,
    private readonly apply: (event: WatchEvent) => void,
    private readonly log: (line: string) => void,
    private readonly servicesCount: () => number,
  ) {
    this.firstSync = new Promise((r) => { this.resolveFirstSync = r; });
  }

  start(): void {
    const w = this.client.watch();
    this.watcher = w;
    this.link = new WatchLink(w, this.log, {
      resumed: `registry ${this.client.url} reachable again; watch resumed`,
      lost: (why) => (this.synced
        ? `registry unreachable (${why}); routing on the last table (${this.servicesCount()} services) and retrying`
        : `registry unreachable (${why}); no route table yet, retrying`),
    });
    w.on('event', (event) => {
      this.apply(event);
      if (!this.synced) {
        this.synced = true;
        this.resolveFirstSync();
      }
    });
  }

  /** Resolves at the first full table, or after `timeoutMs` (the proxy serves 503s until it has one). */
  async ready(timeoutMs: number): Promise<boolean> {
    return resolvesWithin(this.firstSync, timeoutMs);
  }

  status(): DiscoveryStatus {
    const lastError = this.link?.lastError;
    return { url: this.client.url, connected: this.link?.connected ?? false, synced: this.synced, ...(lastError === undefined ? {} : { lastError }) };
  }

  close(): void {
    this.watcher?.close();
  }
}
