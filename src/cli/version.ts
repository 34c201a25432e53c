// The version `mesh --version` prints: the one in the package.json that ships next to the compiled CLI
// (dist/src/cli/ → the package root), so it is right however mesh was started, by npm or not.
import { readFileSync } from 'node:fs';

export function meshVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
