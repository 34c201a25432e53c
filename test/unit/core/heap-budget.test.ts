import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { heapFlagsGiven } from '../../../src/core/heap-budget.js';

// V8's flags are the process's: the budget is tried in a child node of its own.
const MODULE = new URL('../../../src/core/heap-budget.js', import.meta.url).href;

function youngGenerationAfterChurn(budget: boolean): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { applyHeapBudget } from ${JSON.stringify(MODULE)};
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    if (${budget}) applyHeapBudget({ semiSpaceMiB: 4, oldGrowthPercent: 50 }).allowGrowth();
    // Churn with survivors (what makes V8 grow the young generation) in 200 rounds, with a pause after each as
    // between a daemon's requests: ~20 MB/s kept, above a registry daemon's ~13 MB/s at 5,000 registrations/s.
    const kept = [];
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 5_000; i++) { const o = { i, s: 'x'.repeat(i % 64), a: [i, i + 1] }; if (i % 8 === 0) kept.push(o); }
      if (kept.length > 100_000) kept.splice(0, 50_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    process.stdout.write(String(young()));
  `;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 }));
}

test('the heap budget stops the young generation at its cap, where V8 alone grows it further', () => {
  const MiB = 1024 * 1024;
  const withBudget = youngGenerationAfterChurn(true);
  const without = youngGenerationAfterChurn(false);
  assert.ok(withBudget <= 8 * MiB, `young generation ${withBudget / MiB} MiB with a 4 MiB semi-space cap`);
  assert.ok(without > 8 * MiB, `V8's default grew it to ${without / MiB} MiB (the churn must be enough to show the cap)`);
});

test('heap flags given to node win over the budget', () => {
  assert.equal(heapFlagsGiven([], undefined), false);
  assert.equal(heapFlagsGiven([], '--enable-source-maps'), false);
  assert.equal(heapFlagsGiven(['--max-semi-space-size=8'], undefined), true);
  assert.equal(heapFlagsGiven([], '--max-old-space-size=512'), true);
  assert.equal(heapFlagsGiven([], '--max_old_space_size=512'), true);
});
