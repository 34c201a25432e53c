// What a running proxy loads (issue 13, memory): only the proxy's own code and what its flags ask for. Each
// package or module left out here is RSS every sidecar would pay for nothing: the CLI's output libraries, the
// dashboard, certificate tooling, the etcd client, yaml without --config, prom-client before anyone scrapes
// /metrics, undici's and hdr-histogram-js's package indexes (fetch, WebSocket, the WASM histogram build).
// The processes are real `bin/mesh proxy start`s with the module tracer preloaded (as cli-startup.test.ts
// does for --help); every process writes its own list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MODULE_TRACER, readModuleTrace, type LoadedModules } from '../helpers/loaded-modules.js';
import { freePort, startMesh, tempDir } from '../helpers/mesh.js';
import { get, register, startBackend, viaProxy } from '../helpers/proxy.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startRegistry } from '../helpers/registry.js';

type After = Parameters<typeof startBackend>[0];

/** Packages no proxy without mTLS, tracing or --config loads. */
const NEVER_PACKAGES = ['chalk', 'cli-table3', 'ink', 'react', 'selfsigned', '@peculiar/x509', 'etcd3', '@grpc/grpc-js', 'yaml', 'pako', '@assemblyscript/loader'];
/** Loaded on the first GET /metrics or /stats only. */
const SCRAPE_PACKAGES = ['prom-client', '@opentelemetry/api'];
/** Package entry points that load far more than the proxy uses (it takes single files: core/*-parts.ts). */
const FAT_INDEXES = [/node_modules\/undici\/index\.js$/, /node_modules\/hdr-histogram-js\/dist\/index\.js$/];
/** mesh's own code that a plain proxy never runs. */
const NEVER_OWN = /^src\/(ui|demo)\/|^src\/cli\/(actions\/(?!proxy\.js)|render\/)|^src\/registry\/(?!client\.js|http-call\.js|tls-trust\.js)|^src\/tls\/x509-sign\.js|^src\/tracing\/(exporter|tracer)\.js|^src\/metrics\/access-log\.js|^src\/proxy\/discovery\/config-watch\.js/;
/** mesh's own code loaded on the first GET /metrics or /stats only. */
const SCRAPE_OWN = /^src\/metrics\/(admin-routes|prometheus|stats-frame)\.js/;

function unwanted(m: LoadedModules, allowScrape: boolean): string[] {
  return [
    ...NEVER_PACKAGES.filter((p) => m.packages.has(p)),
    ...(allowScrape ? [] : SCRAPE_PACKAGES.filter((p) => m.packages.has(p))),
    ...(allowScrape ? [] : [...m.own].filter((f) => SCRAPE_OWN.test(f))),
    ...m.loaded.filter((l) => FAT_INDEXES.some((re) => re.test(l))),
    ...[...m.own].filter((f) => NEVER_OWN.test(f)),
  ];
}

/** A registry with service "web" on a real backend, and a traced `mesh proxy start …extra` in front of it. */
async function tracedProxy(t: After, extra: string[]) {
  const dir = tempDir('mesh-proxy-modules-');
  t.after(() => dir.cleanup());
  const registry = await startRegistry(t);
  const backend = await startBackend(t, 'web-1');
  await register(registry.url, 'web', backend);
  const port = await freePort();
  const adminPort = await freePort();
  const daemon = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--registry', registry.url, ...extra],
    { env: { NODE_OPTIONS: `--import ${MODULE_TRACER}`, MESH_MODULE_TRACE: join(dir.path, 'modules-%p') } });
  t.after(async () => { await daemon.stop('SIGKILL'); });
  await daemon.waitFor(/mesh proxy: listening on/);
  /** Each process's module list, by pid (the ES modules so far; CommonJS ones are added when it exits). */
  const lists = () => new Map(readdirSync(dir.path).map((f) => [Number(f.slice('modules-'.length)), readModuleTrace(join(dir.path, f))]));
  return { daemon, port, admin: `http://127.0.0.1:${adminPort}`, lists };
}

test('mesh proxy start (one worker) serves requests without the CLI output, dashboard, certificate, etcd, yaml or metrics-exposition packages', async (t) => {
  const proxy = await tracedProxy(t, []);
  const through = await viaProxy(proxy.port, 'web', '/hello');
  assert.equal(through.status, 200);
  assert.equal((await get(`${proxy.admin}/routes`)).status, 200);
  const before = proxy.lists().get(proxy.daemon.child.pid!)!;
  assert.ok(before.own.has('src/proxy/http1/server.js'), 'the tracer saw the proxy load its request path');
  assert.deepEqual(unwanted(before, false), [], 'nothing the proxy does not need is loaded before /metrics is scraped');

  // The first scrape loads the exposition code; /metrics then answers as it always did.
  const scrape = await get(`${proxy.admin}/metrics`);
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /^mesh_requests_total\{service="web"/m);
  assert.equal((await proxy.daemon.stop('SIGTERM')).code, 0);
  const after = proxy.lists().get(proxy.daemon.child.pid!)!;
  assert.ok(after.packages.has('prom-client'), 'prom-client loaded on the first scrape');
  assert.deepEqual(unwanted(after, true), [], 'at exit (CommonJS modules included) still nothing unneeded');
});

test('mesh proxy start --workers 2: the primary loads none of the proxy, the workers none of the CLI', async (t) => {
  const proxy = await tracedProxy(t, ['--workers', '2']);
  for (let i = 0; i < 4; i++) assert.equal((await viaProxy(proxy.port, 'web', `/w${i}`)).status, 200);
  assert.equal((await proxy.daemon.stop('SIGTERM')).code, 0);
  const lists = proxy.lists();
  const primary = lists.get(proxy.daemon.child.pid!)!;
  assert.ok(primary.own.has('src/proxy/cluster.js'), 'the tracer saw the primary start the cluster');
  assert.deepEqual([...primary.packages].filter((p) => p !== 'commander'), [], 'the primary loads no package but commander');
  assert.deepEqual([...primary.own].filter((f) => f.startsWith('src/proxy/') && f !== 'src/proxy/cluster.js'), [], 'the primary loads no proxy code but cluster.ts');
  const workers = [...lists].filter(([pid]) => pid !== proxy.daemon.child.pid);
  assert.equal(workers.length, 2);
  for (const [pid, w] of workers) {
    assert.ok(w.own.has('src/proxy/worker-main.js') && w.own.has('src/proxy/http1/server.js'), `worker ${pid} ran the proxy`);
    assert.deepEqual([...w.own].filter((f) => f.startsWith('src/cli/')), [], `worker ${pid} loads no CLI code`);
    assert.equal(w.packages.has('commander'), false, `worker ${pid} loads no commander`);
    assert.deepEqual(unwanted(w, false), [], `worker ${pid} loads nothing it does not need`);
  }
});

test('mesh proxy start --trace-endpoint exports its spans without loading undici\'s package index', async (t) => {
  const rx = await startOtlpReceiver(t);
  const proxy = await tracedProxy(t, ['--trace-endpoint', rx.url, '--trace-batch-delay', '20ms']);
  assert.equal((await viaProxy(proxy.port, 'web', '/traced')).status, 200);
  await rx.waitForSpans((spans) => spans.some((s) => s.attributes['url.path'] === '/traced'));
  assert.equal((await proxy.daemon.stop('SIGTERM')).code, 0);
  const loaded = proxy.lists().get(proxy.daemon.child.pid!)!;
  assert.ok(loaded.own.has('src/tracing/exporter.js'), 'the tracer saw the proxy load its span exporter');
  // The index costs every traced proxy ~9 MiB of RSS for the one Agent the exporter posts through.
  assert.deepEqual(loaded.loaded.filter((l) => FAT_INDEXES.some((re) => re.test(l))), [], 'no package index loaded (core/undici-parts.ts instead)');
});
