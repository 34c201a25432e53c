// What a `mesh` call loads before it does anything: --version and every command's --help build the command
// tree only, so no action module and none of the heavy packages may load; `mesh services` loads the registry
// client but not undici (only watches need it), nor the daemon, proxy, TLS or dashboard code. Timing is
// test/bench/cli.bench.ts's job; this checks the behaviour that makes it fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MODULE_TRACER, readModuleTrace } from '../helpers/loaded-modules.js';
import { runMesh, tempDir } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { commandTree } from '../unit/cli/command-tree.js';

/** Packages a command's registration must never load (commander and chalk are cheap and always needed). */
const HEAVY_PACKAGES = ['undici', 'etcd3', '@grpc/grpc-js', 'ink', 'react', 'selfsigned', '@peculiar/x509', 'yaml', 'prom-client', 'cli-table3', 'hdr-histogram-js'];
/** mesh's own parts that only an action may load (src/config/ is the config schema: it loads yaml and the authz policy). */
const ACTION_CODE = ['src/cli/actions/', 'src/cli/shift/', 'src/config/', 'src/proxy/', 'src/registry/', 'src/demo/', 'src/ui/', 'src/authz/'];

/** Runs `mesh args…` with the module tracer and returns its result and the packages and mesh files it loaded. */
async function traced(args: string[]) {
  const dir = tempDir('mesh-trace-');
  try {
    const file = join(dir.path, 'modules');
    const res = await runMesh(args, { env: { NODE_OPTIONS: `--import ${MODULE_TRACER}`, MESH_MODULE_TRACE: file } });
    return { res, ...readModuleTrace(file) };
  } finally {
    dir.cleanup();
  }
}

function assertLoadsNothingHeavy(what: string, t: Awaited<ReturnType<typeof traced>>): void {
  assert.ok(t.own.has('src/cli/main.js'), `${what}: the tracer saw mesh start (${t.loaded.length} modules)`);
  assert.deepEqual(HEAVY_PACKAGES.filter((p) => t.packages.has(p)), [], `${what} loads no heavy package`);
  assert.deepEqual([...t.own].filter((f) => ACTION_CODE.some((dir) => f.startsWith(dir))), [], `${what} loads no action code`);
}

test('mesh --version and mesh --help load no action code and no heavy package', async () => {
  for (const args of [['--version'], ['-V'], ['--help'], ['help', 'registry']]) {
    const t = await traced(args);
    assert.equal(t.res.code, 0, `mesh ${args.join(' ')}: ${t.res.stderr}`);
    assertLoadsNothingHeavy(`mesh ${args.join(' ')}`, t);
  }
});

test('every command\'s --help loads no action code and no heavy package', async () => {
  for (const { path } of commandTree().nodes) {
    const t = await traced([...path.split(' '), '--help']);
    assert.equal(t.res.code, 0, `mesh ${path} --help: ${t.res.stderr}`);
    assert.match(t.res.stdout, new RegExp(`^Usage: mesh ${path} `), `mesh ${path} --help prints its usage`);
    assertLoadsNothingHeavy(`mesh ${path} --help`, t);
  }
});

test('a usage error is reported before any action code loads', async () => {
  const t = await traced(['register', 'orders']);
  assert.equal(t.res.code, 2);
  assertLoadsNothingHeavy('mesh register orders (no --address)', t);
});

test('mesh services loads the registry client but not undici, the daemon, the proxy or the dashboard', async (t) => {
  const registry = await startRegistry(t);
  await registry.client.register({ service: 'orders', id: 'o1', address: '127.0.0.1:9001', weight: 100, priority: 0, tags: {} });
  const run = await traced(['services', '--registry', registry.url]);
  assert.equal(run.res.code, 0, run.res.stderr);
  assert.match(run.res.stdout, /^orders\s+1\s+1\s/m);
  assert.ok(run.own.has('src/registry/client.js') && run.own.has('src/cli/actions/services.js'));
  const heavy = HEAVY_PACKAGES.filter((p) => p !== 'cli-table3'); // the table is what it prints
  assert.deepEqual(heavy.filter((p) => run.packages.has(p)), []);
  assert.deepEqual([...run.own].filter((f) => /^src\/(proxy|demo|ui|authz)\/|^src\/registry\/(daemon|store|etcd)/.test(f)), []);
});
