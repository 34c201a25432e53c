// Who must hear of new TLS material: servers (given the new context for new handshakes; open connections keep
// theirs) and client-side listeners (which rebuild their connection pools). Shared by every TlsSource; the
// material's shape and how it becomes a server's context are the source's (context.ts passes
// secureContextOptions), so this file imports nothing of context.ts, which imports it.
import type { SecureContextOptions, Server } from 'node:tls';

export class TlsSubscribers<M> {
  readonly #servers = new Set<Server>();
  readonly #listeners = new Set<(m: M) => void>();

  constructor(private readonly contextOptions: (m: M) => SecureContextOptions) {}

  attachServer(server: Server): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }

  onReload(listener: (m: M) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Installs `m` on every server (unless serversToo is false) and tells every listener. */
  publish(m: M, serversToo = true): void {
    if (serversToo) for (const server of this.#servers) server.setSecureContext(this.contextOptions(m));
    for (const listener of this.#listeners) listener(m);
  }

  clear(): void {
    this.#servers.clear();
    this.#listeners.clear();
  }
}
