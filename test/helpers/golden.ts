// Golden files for renderer tests: the expected output lives in test/unit/cli/golden/<name> (or another folder).
// `UPDATE_GOLDEN=1 node test/run.mjs unit <file>` rewrites them after a deliberate change; review the diff.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');

/** `dir`: another folder of golden files (default test/unit/cli/golden). */
export function golden(name: string, actual: string, dir = GOLDEN): void {
  const file = join(dir, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}
