// `npm run bench:identity`: what the registry's certificate authority costs.
//   signing       — LeafSigner.sign in process (ECDSA P-256 issuer, P-256 CSRs): leaves per second on one core
//   sign over HTTP— POST /v1/identity/sign renewals against a real `mesh registry start --issuer`, 16 in flight
//   renewal vs latency — p50/p99 at a fixed 1,000 req/s (paced-client.js, open loop) through an outbound proxy
//                   to an inbound sidecar, both `--identity registry`: with 5 s certificates (each side renews
//                   every 2.5–3.5 s, so the window holds several renewals) and with 24 h ones (no renewal)
// Not a test: prints numbers. BENCH_SECONDS (default 10) sets the paced window.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadIssuer } from '../../src/tls/issuer.js';
import { LeafSigner } from '../../src/registry/identity/signer.js';
import { freePort, runMesh, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';
import { createToken, makePki, newWorkload, renewalProof, signRaw } from '../helpers/identity.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PACED = fileURLToPath(new URL('./paced-client.js', import.meta.url));
const daemons: Daemon[] = [];
process.on('exit', () => { for (const d of daemons) d.child.kill('SIGKILL'); });

async function signingRate(issuerDir: string): Promise<number> {
  const signer = await LeafSigner.create(loadIssuer(issuerDir));
  const keys = Array.from({ length: 50 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const der = keys.map((k) => k.export({ format: 'der', type: 'spki' }));
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await signer.sign({ service: 'bench', publicKey: keys[i % 50]!, publicKeyDer: der[i % 50]!, tokenId: '0123456789ab', ttlMs: 3_600_000, now: Date.now() });
  }
  return n / ((performance.now() - t0) / 1000);
}

async function httpRenewalRate(url: string): Promise<number> {
  const first = await newWorkload();
  const r = await signRaw(url, { csr: first.csrPem, token: await createToken(url, 'bench') });
  const current = { chain: r.body.chain!, keyPem: first.keyPem };
  const bodies = await Promise.all(Array.from({ length: 64 }, async () => { const w = await newWorkload(); return { csr: w.csrPem, renew: renewalProof(current, w) }; }));
  let done = 0;
  const until = performance.now() + 3_000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 16 }, async (_, lane) => {
    for (let i = lane; performance.now() < until; i += 16) {
      const res = await signRaw(url, bodies[i % bodies.length]!);
      if (res.status !== 200) throw new Error(JSON.stringify(res.body));
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

function paced(url: string, host: string): Promise<{ sent: number; errors: number; p50: number; p99: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PACED, url, host, '1000', String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('exit', () => { try { resolve(JSON.parse(out)); } catch (err) { reject(err); } });
  });
}

async function latencyWithTtl(dir: string, issuerDir: string, ttl: string, appPort: number): Promise<{ p50: number; p99: number; errors: number; renewals: number }> {
  const regPort = await freePort();
  const reg = startMesh(['registry', 'start', '--listen', `127.0.0.1:${regPort}`, '--data-dir', join(dir, `reg-${ttl}`), '--issuer', issuerDir, '--cert-ttl', ttl]);
  daemons.push(reg);
  await reg.waitFor(/listening on/);
  const url = `http://127.0.0.1:${regPort}`;
  const sidecar = startMesh(['proxy', 'start', '--inbound', '127.0.0.1:0', '--app', `127.0.0.1:${appPort}`, '--service', 'orders', '--identity', 'registry', '--registry', url], { env: { MESH_IDENTITY_TOKEN: await createToken(url, 'orders') } });
  daemons.push(sidecar);
  const inPort = (await sidecar.waitFor(/inbound 127\.0\.0\.1:(\d+) ->/))[1]!;
  await runMesh(['register', 'orders', '--id', 'o1', '--address', `127.0.0.1:${appPort}`, '--tls-port', inPort, '--registry', url]);
  const proxy = startMesh(['proxy', 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--registry', url, '--identity', 'registry', '--service', 'web'], { env: { MESH_IDENTITY_TOKEN: await createToken(url, 'web') } });
  daemons.push(proxy);
  const outPort = (await proxy.waitFor(/outbound 127\.0\.0\.1:(\d+)/))[1]!;
  const before = (proxy.stderr().match(/identity: renewed/g) ?? []).length + (sidecar.stderr().match(/identity: renewed/g) ?? []).length;
  const r = await paced(`http://127.0.0.1:${outPort}/`, 'orders');
  const after = (proxy.stderr().match(/identity: renewed/g) ?? []).length + (sidecar.stderr().match(/identity: renewed/g) ?? []).length;
  for (const d of [proxy, sidecar, reg]) await d.stop('SIGTERM');
  return { p50: r.p50, p99: r.p99, errors: r.errors, renewals: after - before };
}

async function main(): Promise<void> {
  const dir = tempDir('mesh-bench-identity-');
  try {
    const pki = await makePki(dir.path);
    const issuer = pki.issuers[0]!;
    const rate = await signingRate(issuer);
    const regPort = await freePort();
    const reg = startMesh(['registry', 'start', '--listen', `127.0.0.1:${regPort}`, '--data-dir', join(dir.path, 'reg'), '--issuer', issuer]);
    daemons.push(reg);
    await reg.waitFor(/listening on/);
    const http = await httpRenewalRate(`http://127.0.0.1:${regPort}`);
    await reg.stop('SIGTERM');
    const app = createServer((_q, s) => s.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as { port: number }).port;
    const steady = await latencyWithTtl(dir.path, issuer, '24h', appPort);
    const renewing = await latencyWithTtl(dir.path, issuer, '5s', appPort);
    app.close();
    console.log(`signing (in process, ECDSA P-256)        ${rate.toFixed(0)} leaves/s`);
    console.log(`POST /v1/identity/sign renewals (HTTP)   ${http.toFixed(0)} /s (16 in flight)`);
    console.log(`1,000 req/s through mTLS, 24 h certs      p50 ${steady.p50} ms  p99 ${steady.p99} ms  errors ${steady.errors}  renewals ${steady.renewals}`);
    console.log(`1,000 req/s through mTLS, 5 s certs       p50 ${renewing.p50} ms  p99 ${renewing.p99} ms  errors ${renewing.errors}  renewals ${renewing.renewals}`);
  } finally {
    dir.cleanup();
  }
}

await main();
process.exit(0);
