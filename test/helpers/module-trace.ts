// Preloaded with `node --import <this file>`: records every module the process loads, one URL or path a line,
// in the file named by MESH_MODULE_TRACE. ES modules are seen by a resolve hook (which runs on the loader's own
// thread); CommonJS modules (those a package require()s, like etcd3's gRPC) are read from the require cache
// when the process exits. Tests use it to prove that a command does not load code it does not need.
// A `%p` in the file name becomes the process id, so each process of a `--workers N` proxy (the workers
// inherit NODE_OPTIONS) writes its own list. Read the lists with loaded-modules.ts.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const traceFile = process.env.MESH_MODULE_TRACE?.replace('%p', String(process.pid));

if (traceFile && isMainThread) {
  register(import.meta.url);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const paths = Object.keys(cache);
    if (paths.length > 0) appendFileSync(traceFile, `${paths.join('\n')}\n`);
  });
}

type Resolved = { url: string };
export async function resolve(specifier: string, context: unknown, next: (s: string, c: unknown) => Promise<Resolved>): Promise<Resolved> {
  const resolved = await next(specifier, context);
  if (traceFile && !resolved.url.startsWith('node:')) appendFileSync(traceFile, `${resolved.url}\n`);
  return resolved;
}
