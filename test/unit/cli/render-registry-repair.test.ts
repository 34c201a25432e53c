// Golden-file tests for the `mesh registry repair` report. `UPDATE_GOLDEN=1 node test/run.mjs unit render-registry`
// rewrites the files under test/unit/cli/golden/ after a deliberate change; review the diff before committing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderRepairReport } from '../../../src/cli/render/registry-repair.js';
import type { RepairReport } from '../../../src/registry/store/embedded/repair.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');
function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(file, actual); }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

const D = '/var/lib/mesh/registry';
const reports: Record<string, RepairReport> = {
  'damaged-journal': {
    dataDir: D,
    journal: {
      path: `${D}/journal.log`, present: true, bytes: 1190, records: 4, keptBytes: 936,
      damaged: [{ offset: 234, bytes: 234 }], tornTailBytes: 20, rewritten: true, backup: `${D}/journal.log.corrupt-2026-11-29T19-28-07-943Z`,
    },
    snapshot: { path: `${D}/snapshot.json`, state: 'ok' },
  },
  'snapshot-set-aside': {
    dataDir: D,
    journal: { path: `${D}/journal.log`, present: true, bytes: 468, records: 2, keptBytes: 468, damaged: [], tornTailBytes: 0, rewritten: false },
    snapshot: { path: `${D}/snapshot.json`, state: 'set-aside', reason: 'snapshot is corrupt (Unexpected end of JSON input)', backup: `${D}/snapshot.json.corrupt-2026-11-29T19-28-07-943Z` },
  },
  'empty-dir': {
    dataDir: D,
    journal: { path: `${D}/journal.log`, present: false, bytes: 0, records: 0, keptBytes: 0, damaged: [], tornTailBytes: 0, rewritten: false },
    snapshot: { path: `${D}/snapshot.json`, state: 'absent' },
  },
};

for (const [name, report] of Object.entries(reports)) {
  test(`registry repair report: ${name}`, () => golden(`registry-repair-${name}.txt`, renderRepairReport(report)));
}
