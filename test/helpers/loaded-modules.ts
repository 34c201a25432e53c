// Reads a module list written by module-trace.ts: the npm packages and the files of mesh's own dist/src that
// one process loaded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './mesh.js';

/** `NODE_OPTIONS: --import ${MODULE_TRACER}` with MESH_MODULE_TRACE=<file> makes a process list its modules. */
export const MODULE_TRACER = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'helpers', 'module-trace.js')).href;

export interface LoadedModules {
  /** Every URL or path, in load order (with repeats). */
  loaded: string[];
  /** npm package names (`@scope/name` or `name`). */
  packages: Set<string>;
  /** mesh's own files, as `src/…/x.js`. */
  own: Set<string>;
}

export function readModuleTrace(file: string): LoadedModules {
  const loaded = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const packages = new Set(loaded.flatMap((l) => {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(l);
    return m ? [m[1]!] : [];
  }));
  const own = new Set(loaded.flatMap((l) => {
    const m = /\/dist\/(src\/.+)$/.exec(l);
    return m ? [m[1]!] : [];
  }));
  return { loaded, packages, own };
}
