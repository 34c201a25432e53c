// The package as npm sees it. Its name must not be `mesh`: that name on the npm registry belongs to an
// unrelated library, so `npx mesh` outside a checkout would run someone else's code. The command stays `mesh`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { meshVersion } from '../../../src/cli/version.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as { name: string; version: string; bin: Record<string, string>; files: string[] };

test('the npm package is mesh-cli and installs the command mesh', () => {
  assert.equal(pkg.name, 'mesh-cli');
  assert.deepEqual(pkg.bin, { mesh: 'bin/mesh' });
  for (const shipped of ['bin', 'dist/src', 'man']) assert.ok(pkg.files.includes(shipped), `${shipped} is in the package`);
  const lock = JSON.parse(read('package-lock.json')) as { name: string; packages: Record<string, { name?: string }> };
  assert.equal(lock.name, pkg.name);
  assert.equal(lock.packages['']!.name, pkg.name);
});

test('the README starts with the two lines that work from a fresh clone, and names the package for elsewhere', () => {
  const readme = read('README.md');
  assert.match(readme, /^# mesh\n[\s\S]*?```sh\nnpm ci && npx mesh demo\nnpm ci && npm test\n```\n/);
  assert.match(readme, /npx mesh-cli demo/);
  assert.match(readme, /npm install -g mesh-cli/);
});

test('mesh --version prints the version in package.json, however mesh was started', () => {
  assert.equal(meshVersion(), pkg.version);
});
