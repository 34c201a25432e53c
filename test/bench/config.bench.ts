// `npm run bench:config`: how fast one `mesh config apply` reaches every proxy. A real etcd, two registry
// daemons on one prefix, two proxies (one following each daemon); 50 config changes, each written through one
// daemon (alternating) and timed from just before the write until both proxies log that they run the new
// version (the log line is written when the proxy has swapped its config in). Reports p50/p99/max.
import { RegistryClient } from '../../src/registry/client.js';
import { ETCD_SKIP, startEtcd } from '../helpers/etcd.js';
import { freePort, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 50);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/** Resolves with the time (performance.now()) at which `daemon` first prints a line matching `re`. */
function lineAt(daemon: Daemon, re: RegExp, timeoutMs = 10_000): Promise<number> {
  return daemon.waitFor(re, timeoutMs).then(() => performance.now());
}

async function main(): Promise<void> {
  if (ETCD_SKIP) { console.log(`config benchmark skipped: ${ETCD_SKIP}`); return; }
  const dir = tempDir('mesh-bench-config-');
  const etcd = await startEtcd();
  const daemons: Daemon[] = [];
  const clients: RegistryClient[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', etcd.url, '--etcd-prefix', '/bench-config']);
      daemons.push(d);
      urls.push((await d.waitFor(/listening on (http:\/\/\S+)/, 20_000))[1]!);
    }
    const proxies: Daemon[] = [];
    for (const url of urls) {
      const p = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${await freePort()}`, '--registry', url]);
      daemons.push(p);
      proxies.push(p);
      await p.waitFor(/mesh proxy: listening on/, 20_000);
    }
    for (const url of urls) clients.push(new RegistryClient({ url }));
    const times: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const t0 = performance.now();
      const { version } = await clients[i % 2]!.applyConfig({ proxy: { services: { web: { retries: i % 10, timeout: `${1 + i}s` } } } });
      const seen = await Promise.all(proxies.map((p) => lineAt(p, new RegExp(`now running central config version ${version} `))));
      times.push(Math.max(...seen) - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`mesh config propagation: ${CHANGES} changes, etcd ${etcd.url}, 2 registry daemons, 2 proxies (one per daemon)`);
    console.log(`  write → both proxies running it: p50 ${pct(sorted, 50).toFixed(1)} ms  p99 ${pct(sorted, 99).toFixed(1)} ms  max ${sorted[sorted.length - 1]!.toFixed(1)} ms  (target p99 < 1000 ms)`);
  } finally {
    for (const c of clients) await c.close();
    for (const d of daemons.reverse()) await d.stop('SIGTERM');
    await etcd.destroy();
    dir.cleanup();
  }
}

await main();
