// What a running registry loads (issue 15, RSS <= 100 MiB with 10,000 instances): a daemon on the embedded store
// without --issuer must not pay for certificate signing (@peculiar/x509 and its asn1 stack, ~19 MiB of RSS), the
// etcd client (etcd3, gRPC, protobufjs), yaml (only --services-dir files are YAML), the CLI's output libraries, or
// prom-client before anyone scrapes /v1/metrics. The process is a real `bin/mesh registry start` with the module
// tracer preloaded (as proxy-modules.test.ts does for the proxy); it serves registrations, watches and the
// identity API's "no issuer" answer, and its module list is read when it has exited (CommonJS included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MODULE_TRACER, readModuleTrace, type LoadedModules } from '../helpers/loaded-modules.js';
import { tempDir } from '../helpers/mesh.js';
import { recordWatch, startRegistry } from '../helpers/registry.js';

/** Packages a registry on the embedded store, without --issuer, never loads (prom-client: until a scrape). */
const NEVER_PACKAGES = /^(@peculiar\/|asn1js$|pkijs$|tsyringe$|reflect-metadata$|selfsigned$|etcd3$|@grpc\/|protobufjs$|yaml$|prom-client$|chalk$|cli-table3$|ink$|react$)/;
/** mesh's own code for signing, the etcd store, YAML definitions and the CLI's renderers of other commands. */
const NEVER_OWN = /^src\/tls\/x509-sign\.js|^src\/registry\/identity\/(authority|service|signer|renewal|csr)\.js|^src\/registry\/store\/etcd\/|^src\/registry\/definitions\/|^src\/(ui|demo|proxy)\//;

function unwanted(m: LoadedModules): string[] {
  return [...[...m.packages].filter((p) => NEVER_PACKAGES.test(p)), ...[...m.own].filter((f) => NEVER_OWN.test(f))];
}

test('mesh registry start (embedded store, no --issuer) serves registrations without the certificate, etcd or yaml packages', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('mesh-registry-modules-');
  t.after(() => dir.cleanup());
  const trace = join(dir.path, 'modules');
  const reg = await startRegistry(t, { env: { NODE_OPTIONS: `--import ${MODULE_TRACER}`, MESH_MODULE_TRACE: trace } });

  const watch = await recordWatch(t, reg.client, ['web']);
  for (let i = 1; i <= 3; i++) await reg.client.register({ service: 'web', id: `web-${i}`, address: `127.0.0.1:${9000 + i}`, weight: 1, priority: 0, tags: {} });
  await watch.next((e) => e.type === 'upsert' && e.instance.id === 'web-3');
  assert.deepEqual((await reg.client.service('web')).instances.map((i) => i.id).sort(), ['web-1', 'web-2', 'web-3']);

  // Without --issuer the identity API answers exactly as before: 503 MESH_ERR_IDENTITY_UNAVAILABLE.
  for (const [method, path] of [['GET', '/v1/identity/roots'], ['POST', '/v1/identity/sign'], ['GET', '/v1/identity/metrics']] as const) {
    const r = await fetch(`${reg.url}${path}`, { method, ...(method === 'POST' ? { body: '{"csr":"x","token":"y"}', headers: { 'content-type': 'application/json' } } : {}) });
    assert.equal(r.status, 503, `${method} ${path}`);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'MESH_ERR_IDENTITY_UNAVAILABLE', `${method} ${path}`);
  }
  watch.close();

  assert.equal((await reg.stop()).code, 0);
  const loaded = readModuleTrace(trace);
  assert.ok(loaded.own.has('src/registry/api/routes.js') && loaded.own.has('src/registry/identity/routes.js'), 'the tracer saw the daemon load its API and identity routes');
  assert.ok(loaded.own.has('src/registry/store/embedded/embedded-store.js'), 'the daemon ran on the embedded store');
  assert.deepEqual(unwanted(loaded), [], 'nothing a daemon without --issuer, etcd or --services-dir needs is loaded');
});
