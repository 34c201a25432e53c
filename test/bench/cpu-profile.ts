// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function, for the benchmarks' "where did
// the time go" lines: `name  file:line  ms  share of busy time` (idle left out of the share; "(program)" is native work with no JS on the stack, such as nghttp2 parsing).
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export function topSelfTime(file: string, count: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  // Sample i lasted timeDeltas[i + 1]; the last sample's length is unknown and left out.
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const us = profile.timeDeltas[i + 1]!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(root)') continue;
    const file = url === '' ? '' : url.replace(/^.*\/(node_modules\/|src\/|dist\/)/, '$1').replace(/^node:/, '');
    const key = `${functionName || '(anonymous)'}  ${file}${file === '' ? '' : `:${lineNumber + 1}`}`;
    self.set(key, (self.get(key) ?? 0) + us);
    busy += us;
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(6)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
}
