// The issue-13 verdicts that `npm run bench:proxy` prints (test/bench/proxy-targets.ts): ratios are taken
// within each round and the median is judged; without nginx the nginx-relative targets are not judged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, type RoundFigures } from '../bench/proxy-targets.js';

const round = (mesh: RoundFigures, nginx: RoundFigures, direct: RoundFigures) => new Map([['mesh', mesh], ['nginx', nginx], ['direct', direct]]);
const direct: RoundFigures = { rps: 70_000, p99: 1, cpuUs: null, pacedP99: 1.0 };

test('ratios to nginx are taken within each round, then the median is judged', () => {
  // Round 2 is a noisy minute for both: the within-round ratio stays 0.5, the cross-round medians would not.
  const rounds = [
    round({ rps: 20_000, p99: 4, cpuUs: 40, pacedP99: 1.3 }, { rps: 40_000, p99: 2, cpuUs: 20, pacedP99: 1.2 }, direct),
    round({ rps: 10_000, p99: 9, cpuUs: 80, pacedP99: 1.4 }, { rps: 20_000, p99: 3, cpuUs: 40, pacedP99: 1.2 }, direct),
    round({ rps: 21_000, p99: 5, cpuUs: 45, pacedP99: 1.9 }, { rps: 42_000, p99: 2, cpuUs: 20, pacedP99: 1.2 }, direct),
  ];
  const verdicts = judge({ name: 'mesh', rssIdleMiB: 58, rssPeakMiB: 95 }, rounds, 'direct', 'nginx');
  assert.deepEqual(verdicts.map((v) => `${v.label}: ${v.text} ${v.verdict}`), [
    'CPU/req nginx÷mesh: 0.50 PASS',
    'req/s ÷ nginx: 0.50 PASS',
    'sat. p99 ÷ nginx: 2.5× MISS',
    '+p99 @1k req/s: 0.40 ms PASS',
    'RSS idle: 58 MiB PASS',
    'RSS under load: 95 MiB MISS',
  ]);
});

test('without nginx the nginx-relative targets say so and are not judged', () => {
  const rounds = [new Map([['mesh', { rps: 1, p99: 1, cpuUs: 50, pacedP99: 1.2 }], ['direct', direct]])];
  const verdicts = judge({ name: 'mesh', rssIdleMiB: null, rssPeakMiB: null }, rounds, 'direct', undefined);
  assert.deepEqual(verdicts.map((v) => v.verdict), ['-', '-', '-', 'PASS', '-', '-']);
  assert.equal(verdicts[0]!.text, 'no nginx');
});
