// `mesh register -f <file>`: the instances of a definition file (the format of --services-dir, see parse.ts)
// registered through the API, for hosts that run no registry daemon. Every entry is validated before the
// first one is sent, so a bad file registers nothing.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { MeshError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import type { RegistryClient } from '../client.js';
import { parseDefinitions } from './parse.js';

export async function registerFile(client: RegistryClient, path: string): Promise<{ index: number; instances: Instance[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { hint: 'pass the path of a YAML or JSON definition file' });
  }
  let specs: ReturnType<typeof parseDefinitions>;
  try {
    specs = parseDefinitions(basename(path), text);
  } catch (err) {
    // The code's own hint speaks of a reloaded file whose previous version stays in force (--services-dir);
    // here there is no previous version, and nothing was sent.
    if (err instanceof MeshError) throw new MeshError(err.code, err.message, { hint: 'fix the file; nothing was registered' });
    throw err;
  }
  const instances: Instance[] = [];
  let index = 0;
  for (const spec of specs) {
    const res = await client.register(spec);
    instances.push(res.instance);
    index = res.index;
  }
  return { index, instances };
}
