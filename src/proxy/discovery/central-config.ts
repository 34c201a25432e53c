// Follows the registry's central config (GET /v1/config/watch) and turns it, with the proxy's local --config
// file laid over it field by field, into the config the proxy routes with. Each version is re-validated here
// with the same schema the registry used; a version this proxy cannot use (its merge with the local file is
// invalid) is refused with one log line and the last good config stays. When the registry is out of reach the
// watch retries by itself and the proxy keeps the last config it had — it never falls back to defaults.
import type { Policy } from '../../authz/policy.js';
import type { RoutesSnapshot } from '../../core/admin-types.js';
import { policyFromDocument } from '../../authz/load.js';
import { EMPTY_CENTRAL, overlayProxyDocuments, type CentralConfig, type FieldSource, type ProxyDocument } from '../../config/central.js';
import { parseConfig, type ProxyConfig } from '../../config/proxy-config.js';
import { EMPTY_FAULTS, FaultTable } from '../../config/faults.js';
import { resolvesWithin } from '../../core/within.js';
import { WatchLink } from './watch-link.js';
import type { ConfigWatchEvent, RegistryClient, Watcher } from '../../registry/client.js';

/** What GET /routes says about the central config this proxy runs (its shape lives with RoutesSnapshot). */
export type CentralConfigStatus = NonNullable<RoutesSnapshot['config']>;

export interface EffectiveConfig {
  config: ProxyConfig;
  /** Central version merged in. */
  version: number;
  /** Where each set field came from, keyed `defaults` or `services.<name>` (unset fields are built-in defaults). */
  sources: Record<string, Record<string, FieldSource>>;
  /** The central authorization policy, or null when there is none. */
  policy: Policy | null;
  /** Injected faults; each expires by its own deadline, checked per request, so none outlives its --for. */
  faults: FaultTable;
}

export class CentralConfigFollower {
  private watcher: Watcher<ConfigWatchEvent> | undefined;
  private central: CentralConfig = EMPTY_CENTRAL;
  private centralVersion = 0;
  private effective: EffectiveConfig;
  private link: WatchLink | undefined;
  private synced = false;
  private refused: { version: number; reason: string } | undefined;
  private resolveFirst!: () => void;
  private readonly first = new Promise<void>((r) => { this.resolveFirst = r; });

  constructor(
    private readonly client: RegistryClient,
    /** The local file's document and path, or undefined without --config; read on every recompute. */
    private readonly file: () => { path: string; doc: ProxyDocument } | undefined,
    private readonly onChange: (effective: EffectiveConfig) => void,
    private readonly log: (line: string) => void,
  ) {
    const merged = this.merge();
    if (merged instanceof Error) throw merged; // the local file alone was already validated by its loader
    this.effective = merged;
  }

  get current(): EffectiveConfig { return this.effective; }

  start(): void {
    const w = this.client.watchConfig();
    this.watcher = w;
    // An unreachable registry ends the wait at once: the proxy starts on what it has and keeps retrying.
    w.once('disconnected', () => this.resolveFirst());
    this.link = new WatchLink(w, this.log, {
      // The catalogue watch already says that the registry is unreachable; this line says what it means for config.
      resumed: `config watch resumed at version ${this.effective.version}`,
      lost: () => `config watch interrupted; keeping config version ${this.effective.version} until the registry answers again`,
    });
    w.on('event', (e) => {
      this.central = e.config;
      this.centralVersion = e.version;
      this.recompute(`central config version ${e.version}${e.change ? ` (${e.change})` : ''}`);
      if (!this.synced) {
        this.synced = true;
        this.resolveFirst();
      }
    });
  }

  /** Resolves true at the first version from the registry; false when it is unreachable or after timeoutMs. */
  async ready(timeoutMs: number): Promise<boolean> {
    return (await resolvesWithin(this.first, timeoutMs)) && this.synced;
  }

  /** Re-merges the central config with the local file (a new central version, or the file changed). */
  recompute(why: string): boolean {
    const merged = this.merge();
    if (merged instanceof Error) {
      this.refused = { version: this.centralVersion, reason: merged.message };
      this.log(`${why} refused here, keeping version ${this.effective.version}: ${merged.message}`);
      return false;
    }
    const first = !this.synced && this.centralVersion === 0;
    this.refused = undefined;
    this.effective = merged;
    this.onChange(merged);
    if (!first) this.log(`config: now running ${why}`);
    return true;
  }

  status(): CentralConfigStatus {
    const f = this.file();
    return {
      version: this.effective.version,
      synced: this.synced,
      connected: this.link?.connected ?? false,
      ...(this.link?.lastError === undefined ? {} : { lastError: this.link.lastError }),
      ...(f === undefined ? {} : { file: f.path }),
      ...(this.refused === undefined ? {} : { refused: this.refused }),
    };
  }

  close(): void {
    this.watcher?.close();
  }

  private merge(): EffectiveConfig | Error {
    const f = this.file();
    const { doc, sources } = overlayProxyDocuments(this.central.proxy, f?.doc ?? {});
    try {
      const config = parseConfig(doc);
      const policy = this.central.authz === null ? null : policyFromDocument(this.central.authz);
      return { config, version: this.centralVersion, sources, policy, faults: this.central.faults === undefined ? EMPTY_FAULTS : new FaultTable(this.central.faults) };
    } catch (err) {
      return err as Error;
    }
  }
}
