// Who must hear of new TLS material: servers (given the new context for new handshakes; open connections keep
// theirs) and client-side listeners (which rebuild their connection pools). Shared by every TlsSource.
import type { Server } from 'node:tls';
import { secureContextOptions, type TlsMaterial } from './context.js';

export class TlsSubscribers {
  readonly #servers = new Set<Server>();
  readonly #listeners = new Set<(m: TlsMaterial) => void>();

  attachServer(server: Server): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }

  onReload(listener: (m: TlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Installs `m` on every server (unless serversToo is false) and tells every listener. */
  publish(m: TlsMaterial, serversToo = true): void {
    if (serversToo) for (const server of this.#servers) server.setSecureContext(secureContextOptions(m));
    for (const listener of this.#listeners) listener(m);
  }

  clear(): void {
    this.#servers.clear();
    this.#listeners.clear();
  }
}
