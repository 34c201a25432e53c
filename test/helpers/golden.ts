// Golden files for renderer tests: compares with test/unit/cli/golden/<name>; `UPDATE_GOLDEN=1` (or a
// missing file) writes it instead — review the diff before committing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');

export function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(file, actual); }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}
