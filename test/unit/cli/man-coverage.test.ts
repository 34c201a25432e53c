// The man page documents every command and every long flag that ships: walks the real commander program and
// looks each one up in man/mesh.1 (roff's `\-` read as `-`, font escapes dropped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/mesh.js';
import { commandTree } from './command-tree.js';

const MAN = readFileSync(join(REPO_ROOT, 'man', 'mesh.1'), 'utf8')
  .replace(/\\-/g, '-')
  .replace(/\\f[BIRP]/g, '')
  .replace(/\\ /g, ' ');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('man page has the sections a reader expects, in order', () => {
  const order = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'GLOBAL OPTIONS', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'ERROR CODES', 'EXAMPLES', 'SEE ALSO'];
  const sections = [...MAN.matchAll(/^\.SH "?([^"\n]+)"?$/gm)].map((m) => m[1]!.trim());
  const positions = order.map((s) => sections.indexOf(s));
  for (const [i, s] of order.entries()) assert.ok(positions[i]! >= 0, `man page has no ${s} section (has: ${sections.join(', ')})`);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, `sections out of order: ${sections.join(', ')}`);
});

test('man page names every command by its full path', () => {
  const { nodes } = commandTree();
  assert.ok(nodes.length > 15, 'the walk found the command tree');
  const missing = nodes.filter((n) => !new RegExp(`mesh ${escape(n.path).replace(/ /g, '\\s+')}(?![-\\w])`).test(MAN));
  assert.deepEqual(missing.map((n) => `mesh ${n.path}`), []);
});

test('man page mentions every long flag of every command', () => {
  const { program, nodes } = commandTree();
  const missing: string[] = [];
  const flags = [...program.options.map((o) => ({ path: '', flag: o.long })), ...nodes.flatMap((n) => n.longFlags.map((flag) => ({ path: n.path, flag })))];
  for (const { path, flag } of flags) {
    if (flag === undefined) continue;
    if (!new RegExp(`${escape(flag)}(?![\\w-])`).test(MAN)) missing.push(`mesh ${path} ${flag}`.replace('  ', ' '));
  }
  assert.deepEqual(missing, []);
});
