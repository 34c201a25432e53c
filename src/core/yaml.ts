// YAML parsing, with the yaml package loaded on the first parse. A proxy without --config (and without a
// policy file) never parses YAML, and loading the package costs it ~4 MiB of heap. Synchronous require, not
// import(): authz policy files are parsed in synchronous code (file-watch reloads), and for Node the package's
// entry is the same CommonJS file whichever way it is loaded, so a CLI command that also imports it gets one copy.
import { createRequire } from 'node:module';

let yaml: typeof import('yaml') | undefined;

export function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}
