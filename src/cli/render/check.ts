// `mesh check` as one ✓/× line per check, with the hint under each ×.
import { Chalk } from 'chalk';
import type { CheckResult } from '../checks.js';

export function renderChecks(results: readonly CheckResult[], opts: { color: boolean }): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  let out = '';
  for (const r of results) {
    out += r.ok ? `${c.green('✓')} ${r.detail}\n` : `${c.red('×')} ${r.detail}\n${r.hint ? `    hint: ${r.hint}\n` : ''}`;
  }
  const failed = results.filter((r) => !r.ok).length;
  out += failed === 0 ? `\n${c.green(`all ${results.length} checks passed`)}\n` : `\n${c.red(`${failed} of ${results.length} checks failed`)}\n`;
  return out;
}
