// Registry watch → endpoint table. The watcher reconnects by itself; this module only applies its updates and
// says, once per outage, that the proxy keeps routing on the last table it had — and again when it resumes.
import type { RegistryClient, Watcher } from '../registry/client.js';
import type { WatchEvent } from '../core/types.js';

export interface DiscoveryStatus {
  url: string;
  connected: boolean;
  lastError?: string;
  /** Whether a first table (a reset) has arrived. */
  synced: boolean;
}

export class Discovery {
  private watcher: Watcher | undefined;
  private connected = false;
  private synced = false;
  private down = false;
  private lastError: string | undefined;
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
    w.on('connected', () => {
      this.connected = true;
      if (this.down) this.log(`registry ${this.client.url} reachable again; watch resumed`);
      this.down = false;
      this.lastError = undefined;
    });
    w.on('disconnected', (err) => {
      this.connected = false;
      this.lastError = err.message;
      if (!this.down) {
        this.down = true;
        this.log(this.synced
          ? `registry unreachable (${err.message}); routing on the last table (${this.servicesCount()} services) and retrying`
          : `registry unreachable (${err.message}); no route table yet, retrying`);
      }
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
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); timer.unref(); });
    const ok = await Promise.race([this.firstSync.then(() => true as const), timeout]);
    clearTimeout(timer);
    return ok;
  }

  status(): DiscoveryStatus {
    return { url: this.client.url, connected: this.connected, synced: this.synced, ...(this.lastError === undefined ? {} : { lastError: this.lastError }) };
  }

  close(): void {
    this.watcher?.close();
  }
}
