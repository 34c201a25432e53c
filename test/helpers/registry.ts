// Starts a real `mesh registry start` on an ephemeral loopback port for integration tests.
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

export async function startRegistry(t: After, opts: { dataDir?: string } = {}): Promise<TestRegistry> {
  let dataDir = opts.dataDir;
  if (dataDir === undefined) {
    const dir = tempDir('mesh-registry-');
    t.after(dir.cleanup);
    dataDir = dir.path;
  }
  const daemon = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  t.after(async () => { await daemon.stop('SIGKILL'); });
  const m = await daemon.waitFor(/listening on (http:\/\/[\d.:]+)/);
  const url = m[1]!;
  const client = new RegistryClient({ url, timeoutMs: 5_000 });
  t.after(() => client.close());
  return { url, dataDir, daemon, client, stop: () => daemon.stop('SIGTERM') };
}
