// Starts a real `mesh registry start` on an ephemeral loopback port for integration tests.
import type { WatchEvent } from '../../src/core/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startMesh, tempDir, type Daemon } from './mesh.js';

export interface TestRegistry {
  url: string;
  dataDir: string;
  daemon: Daemon;
  client: RegistryClient;
  /** SIGTERM and wait (the data dir stays until the test ends). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

type After = { after(fn: () => Promise<void> | void): void };

export async function startRegistry(t: After, opts: { dataDir?: string; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<TestRegistry> {
  let dataDir = opts.dataDir;
  if (dataDir === undefined) {
    const dir = tempDir('mesh-registry-');
    t.after(dir.cleanup);
    dataDir = dir.path;
  }
  const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...(opts.args ?? [])], opts.env ? { env: opts.env } : {});
  t.after(async () => { await daemon.stop('SIGKILL'); });
  const m = await daemon.waitFor(/listening on (https?:\/\/[\d.:]+)/);
  const url = m[1]!;
  const client = new RegistryClient({ url, timeoutMs: 5_000 });
  t.after(() => client.close());
  return { url, dataDir, daemon, client, stop: () => daemon.stop('SIGTERM') };
}

export interface EventLog {
  events: { at: number; event: WatchEvent }[];
  /** Resolves with the first event (past or future) matching pred; rejects after timeoutMs. */
  next(pred: (e: WatchEvent) => boolean, timeoutMs?: number): Promise<{ at: number; event: WatchEvent }>;
  close(): void;
}

/**
 * Opens a real watch (RegistryClient.watch) and records every event with its arrival time (performance.now()).
 * Resolves once the initial `reset` has arrived, so later changes are sure to arrive as events.
 */
export async function recordWatch(t: After, client: RegistryClient, services?: string[]): Promise<EventLog> {
  const watcher = client.watch(services === undefined ? {} : { services });
  t.after(() => watcher.close());
  const events: { at: number; event: WatchEvent }[] = [];
  const waiters = new Set<() => void>();
  watcher.on('event', (event) => {
    events.push({ at: performance.now(), event });
    for (const w of [...waiters]) w();
  });
  const log: EventLog = {
    events,
    close: () => watcher.close(),
    next(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find((e) => pred(e.event));
          if (hit) { waiters.delete(check); clearTimeout(timer); resolve(hit); }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching watch event within ${timeoutMs} ms; saw ${JSON.stringify(events.map((e) => e.event.type === 'upsert' ? [e.event.type, e.event.instance.id, e.event.instance.health] : [e.event.type]))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  await log.next((e) => e.type === 'reset');
  return log;
}
