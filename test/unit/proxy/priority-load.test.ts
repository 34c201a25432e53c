import { test } from 'node:test';
import assert from 'node:assert/strict';
import { priorityLoads } from '../../../src/proxy/pool/priority-load.js';

test('priority loads follow eligible capacity: health = 1.4 × eligible share, spill-over, normalised when short', () => {
  const table: Array<{ why: string; eligible: number[]; total: number[]; health: number[]; load: number[] }> = [
    { why: 'all healthy', eligible: [200, 100], total: [200, 100], health: [100, 100], load: [100, 0] },
    { why: 'one of two primaries', eligible: [100, 100], total: [200, 100], health: [70, 100], load: [70, 30] },
    { why: 'three of four: 1.4 × 75% is over 100%', eligible: [300, 100], total: [400, 100], health: [100, 100], load: [100, 0] },
    { why: 'two of three', eligible: [200, 100], total: [300, 100], health: [93, 100], load: [93, 7] },
    { why: 'weight is capacity: the 300 one left', eligible: [100, 100], total: [400, 100], health: [35, 100], load: [35, 65] },
    { why: 'no primary', eligible: [0, 100], total: [200, 100], health: [0, 100], load: [0, 100] },
    { why: 'tier 1 empty, tier 2 takes the rest', eligible: [100, 0, 100], total: [200, 100, 100], health: [70, 0, 100], load: [70, 0, 30] },
    { why: 'short everywhere: scaled to 100', eligible: [100, 100], total: [400, 400], health: [35, 35], load: [50, 50] },
    { why: 'each tier takes its health until 100 is reached', eligible: [100, 100, 100], total: [300, 300, 300], health: [46, 46, 46], load: [46, 46, 8] },
    { why: 'short, rounding remainder to the first', eligible: [100, 100, 100], total: [500, 500, 500], health: [28, 28, 28], load: [34, 33, 33] },
    { why: 'nothing eligible', eligible: [0, 0], total: [100, 100], health: [0, 0], load: [0, 0] },
    { why: 'a tiny share still gets traffic', eligible: [1, 0], total: [1000, 100], health: [1, 0], load: [100, 0] },
  ];
  for (const row of table) {
    const health: number[] = [];
    const load: number[] = [];
    priorityLoads(row.eligible, row.total, health, load);
    assert.deepEqual({ health, load }, { health: row.health, load: row.load }, row.why);
  }
});
