import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, MeshError } from '../../../src/core/errors.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

test('every error code is documented in the man page', () => {
  const man = readFileSync(join(REPO_ROOT, 'man', 'mesh.1'), 'utf8');
  const missing = Object.keys(ErrorCodes).filter((code) => !man.includes(`.B ${code}\n`));
  assert.deepEqual(missing, []);
});

test('MeshError serialises to the API error body', () => {
  const err = new MeshError('MESH_ERR_NOT_FOUND', 'no service "x"');
  assert.equal(err.status, 404);
  assert.deepEqual(JSON.parse(JSON.stringify(err)).error.code, 'MESH_ERR_NOT_FOUND');
});
