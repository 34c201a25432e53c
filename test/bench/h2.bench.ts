// HTTP/2 (h2c) through the proxy, against direct, in one run (`npm run build && node dist/test/bench/h2.bench.js`;
// not a test). One node:http2 hello backend; load from h2-load.js (h2load is not installed here) with 64
// streams over 4 connections; the proxy pinned to its own CPU where taskset exists. Prints req/s, p50/p99 and
// the ratio to direct.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startMesh, type Daemon } from '../helpers/mesh.js';
import { startBenchRegistry } from './bench-registry.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONNECTIONS ?? 64);
const LOAD = fileURLToPath(new URL('./h2-load.js', import.meta.url));
const TASKSET = spawnSync('sh', ['-c', 'command -v taskset']).status === 0 && cpus().length >= 2;
const PROXY_CPU = String(cpus().length - 1);

interface Result { rps: number; p50: number; p99: number; errors: number }

function load(url: string, authority: string): Result {
  const args = [LOAD, url, authority, String(SECONDS), String(CONCURRENCY)];
  const r = TASKSET ? spawnSync('taskset', ['-c', '0', process.execPath, ...args], { encoding: 'utf8' }) : spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`h2-load failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Result;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-h2-'));
  const daemons: Daemon[] = [];
  let backend: ChildProcess | undefined;
  try {
    const bePort = await freePort();
    const code = `const h=require('http2').createServer();h.on('stream',(s)=>{s.respond({':status':200,'content-type':'text/plain'});s.end('ok')});h.listen(${bePort},'127.0.0.1',()=>console.log('up'))`;
    backend = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => backend!.stdout!.once('data', r));
    const registry = await startBenchRegistry(dir, `127.0.0.1:${bePort}`, daemons);
    const port = await freePort();
    const proxy = startMesh(['proxy', 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${await freePort()}`, '--registry', registry]);
    daemons.push(proxy);
    await proxy.waitFor(/mesh proxy: listening on/, 20_000);
    if (TASKSET) spawnSync('taskset', ['-a', '-p', '-c', PROXY_CPU, String(proxy.child.pid)]);

    console.log(`mesh h2c benchmark: ${SECONDS}s per run, ${CONCURRENCY} streams over 4 connections, ${TASKSET ? `proxy on CPU ${PROXY_CPU}` : 'nothing pinned'}`);
    const direct = load(`http://127.0.0.1:${bePort}`, 'bench');
    const viaMesh = load(`http://127.0.0.1:${port}`, 'bench');
    const row = (name: string, x: Result) => console.log(`${name.padEnd(16)} ${Math.round(x.rps).toString().padStart(8)} req/s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  errors ${x.errors}`);
    row('direct', direct);
    row('mesh (h2c)', viaMesh);
    console.log(`mesh / direct: ${(viaMesh.rps / direct.rps * 100).toFixed(0)}% of the req/s`);
  } finally {
    for (const d of daemons.reverse()) await d.stop('SIGTERM');
    backend?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
