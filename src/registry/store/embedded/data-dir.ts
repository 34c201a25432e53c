// Where the registry keeps its journal and snapshot when --data-dir is not given: the user's XDG state dir,
// because the data is state the daemon rebuilds from, not configuration or cache.
import { mkdirSync, statSync, accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { MeshError } from '../../../core/errors.js';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'mesh', 'registry');
}

/** Creates the data dir (0700: registrations name internal addresses) and checks it is a writable directory. */
export function ensureDataDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EEXIST' || code === 'ENOTDIR' ? 'a path component is not a directory' : (err as Error).message;
    throw new MeshError('MESH_ERR_STORE_IO', `data dir ${dir} is not writable (${code}: ${why})`, { cause: err });
  }
  return dir;
}
