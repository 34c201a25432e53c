// The registry every proxy benchmark needs: a real daemon in `dir` with the benchmark's one backend registered
// as service `bench`. The daemon is pushed onto `daemons` so the caller stops it.
import { join } from 'node:path';
import { freePort, runMesh, startMesh, type Daemon } from '../helpers/mesh.js';

export async function startBenchRegistry(dir: string, backendAddress: string, daemons: Daemon[]): Promise<string> {
  const port = await freePort();
  const reg = startMesh(['registry', 'start', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'registry')]);
  daemons.push(reg);
  await reg.waitFor(/listening on/);
  const registry = `http://127.0.0.1:${port}`;
  const r = await runMesh(['register', 'bench', '--address', backendAddress, '--registry', registry]);
  if (r.code !== 0) throw new Error(r.stderr);
  return registry;
}
