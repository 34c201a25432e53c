// `mesh demo`: a registry (temporary data dir), a proxy, the demo services and a bounded load generator, all
// in this process tree; stop() takes everything down and removes the temporary directory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemRandom, type Random } from '../core/clock.js';
import { RegistryClient } from '../registry/client.js';
import { DEMO_TOPOLOGY, startInstance, type RunningInstance } from './backends.js';
import { startChild, type Child } from './children.js';
import { startLoad, type LoadStats, type RunningLoad } from './load.js';

export interface DemoOptions {
  /** Requests per second per service. */
  rps: number;
  /** Upper bound on the requests the load generator sends. */
  maxRequests: number;
  /** Progress messages (stderr). */
  log(line: string): void;
  random?: Random;
}

export interface Demo {
  registryUrl: string;
  proxyUrl: string;
  adminUrl: string;
  services: string[];
  load: LoadStats;
  instances: readonly RunningInstance[];
  /** Stops sending and waits for the requests in flight, so the load's counts and the proxy's agree. */
  stopLoad(): Promise<void>;
  /** Stops the load, the proxy, the registry and the services; removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * Per-service proxy settings that make the demo's story visible: retries and outlier detection turn the flaky
 * orders-3 into "ok after retry" and an ejection; peak-EWMA sends users' traffic around the slow users-2.
 */
const DEMO_CONFIG = {
  services: {
    orders: { policy: 'round-robin', retries: 2, outlier: { consecutiveFailures: 3, baseEjectionTime: '10s' } },
    users: { policy: 'peak-ewma' },
    web: { policy: 'least-request' },
  },
};

export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-demo-'));
  const children: Child[] = [];
  const instances: RunningInstance[] = [];
  let load: RunningLoad | undefined;
  let client: RegistryClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    await load?.stop();
    for (const c of [...children].reverse()) await c.stop();
    await client?.close().catch(() => undefined);
    await Promise.all(instances.map((i) => i.close()));
    rmSync(dir, { recursive: true, force: true });
  })());

  try {
    opts.log('starting a registry…');
    const reg = await startChild('registry', ['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'registry')], /listening on (http:\/\/[\d.:]+)/);
    children.push(reg.child);
    const registryUrl = reg.match[1]!;

    opts.log(`starting ${DEMO_TOPOLOGY.length} demo instances…`);
    const random = opts.random ?? systemRandom;
    for (const spec of DEMO_TOPOLOGY) instances.push(await startInstance(spec, random));
    client = new RegistryClient({ url: registryUrl, timeoutMs: 5_000 });
    for (const i of instances) {
      await client.register({ service: i.service, id: i.id, address: i.address, weight: i.weight ?? 100, priority: i.priority ?? 0, ...(i.zone ? { zone: i.zone } : {}), tags: { demo: 'true' } });
    }

    opts.log('starting a proxy…');
    const configFile = join(dir, 'proxy.json');
    writeFileSync(configFile, JSON.stringify(DEMO_CONFIG, null, 2));
    const proxy = await startChild('proxy', ['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', registryUrl, '--config', configFile],
      /listening on ([\d.]+):(\d+) \(admin ([\d.]+:\d+)/);
    children.push(proxy.child);
    const [, host, port, admin] = proxy.match as unknown as [string, string, string, string];

    const services = [...new Set(DEMO_TOPOLOGY.map((i) => i.service))];
    opts.log(`sending ${opts.rps} requests/s to each of ${services.join(', ')} through the proxy…`);
    load = startLoad({ proxyHost: host, proxyPort: Number(port), services, rps: opts.rps, maxRequests: opts.maxRequests });
    return { registryUrl, proxyUrl: `http://${host}:${port}`, adminUrl: `http://${admin}`, services, load: load.stats, instances, stopLoad: () => load!.stop(), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
