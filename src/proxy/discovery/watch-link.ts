// The state of one registry watch as the proxy reports it (connected, last error), with one log line per outage
// and one when it ends — shared by the catalogue watch (discovery.ts) and the config watch (central-config.ts).
import type { MeshError } from '../../core/errors.js';

interface WatchEvents {
  on(event: 'connected', fn: () => void): unknown;
  on(event: 'disconnected', fn: (err: MeshError) => void): unknown;
}

export class WatchLink {
  connected = false;
  lastError: string | undefined;
  private down = false;

  constructor(watcher: WatchEvents, log: (line: string) => void, say: { resumed: string; lost: (why: string) => string }) {
    watcher.on('connected', () => {
      this.connected = true;
      if (this.down) log(say.resumed);
      this.down = false;
      this.lastError = undefined;
    });
    watcher.on('disconnected', (err) => {
      this.connected = false;
      this.lastError = err.message;
      if (!this.down) {
        this.down = true;
        log(say.lost(err.message));
      }
    });
  }
}
