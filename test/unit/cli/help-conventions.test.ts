// CLI conventions every command keeps: --json where data is printed, an example in --help, and flag help in
// full sentences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferIo } from '../../../src/cli/io.js';
import { helpNotes, helpWidth } from '../../../src/cli/help.js';
import { commandTree, helpOf } from './command-tree.js';

/** Commands that print data (a table or a document) on stdout; each must offer --json. */
const DATA_COMMANDS = [
  'registry status', 'registry repair', 'register', 'deregister', 'services',
  'certs ca init', 'certs gen', 'certs inspect', 'authz test', 'curl',
  'authz apply', 'config get', 'config apply', 'config history', 'config rollback', 'config delete',
  'fault inject', 'fault list', 'fault clear',
  'routes', 'routes explain', 'demo', 'check', 'trace',
  'certs ca issuer', 'certs ca rotate', 'token create', 'token list', 'token revoke',
];
/** Commands that run until stopped or draw a dashboard: no data document to print. */
const NO_DATA_COMMANDS = ['registry', 'registry start', 'run', 'certs', 'certs ca', 'authz', 'proxy', 'proxy start', 'top', 'config', 'fault', 'shift', 'token'];

test('every command is classified as printing data or not', () => {
  const { nodes } = commandTree();
  const unclassified = nodes.map((n) => n.path).filter((p) => !DATA_COMMANDS.includes(p) && !NO_DATA_COMMANDS.includes(p));
  assert.deepEqual(unclassified, [], 'add new commands to DATA_COMMANDS (and give them --json) or NO_DATA_COMMANDS');
});

test('every command that prints data offers --json', () => {
  const { nodes } = commandTree();
  for (const path of DATA_COMMANDS) {
    const node = nodes.find((n) => n.path === path);
    assert.ok(node, `mesh ${path} exists`);
    assert.ok(node.acceptedFlags.includes('--json'), `mesh ${path} offers --json`);
  }
});

/**
 * Known gaps, each owned elsewhere: `mesh proxy` (the group) lives in src/cli/commands/proxy.ts, which the
 * proxy work owns. Remove an entry once it has an example; the test then holds the line.
 */
const EXAMPLE_PENDING: string[] = [];

test('every command\'s --help ends with an example', () => {
  const { nodes } = commandTree();
  const without = nodes.filter((n) => !/Examples?:\n\s+(npx )?mesh /.test(helpOf(n.cmd))).map((n) => n.path);
  assert.deepEqual(without.filter((p) => !EXAMPLE_PENDING.includes(p)).map((p) => `mesh ${p}`), []);
});

test('flag help is written in full sentences', () => {
  const { program, nodes } = commandTree();
  const bad: string[] = [];
  for (const { path, cmd } of [{ path: '', cmd: program }, ...nodes]) {
    for (const o of cmd.options) {
      if (o.long === '--version' || o.long === '--help') continue;
      if (!/^[A-Z0-9"'`(-].*[.)]$/s.test(o.description)) bad.push(`mesh ${path} ${o.flags}: "${o.description}"`.replace('  ', ' '));
    }
  }
  assert.deepEqual(bad, []);
});

/** Example lines are never wrapped (they stay copy-pasteable): a command or the continuation of one. */
const EXAMPLE_LINE = /^ {2}(npx )?(mesh|curl) |^ {4}-/;

function helpLines(columns: string): { where: string; line: string }[] {
  const { program, nodes } = commandTree(bufferIo({ COLUMNS: columns }));
  return [{ path: '', cmd: program }, ...nodes].flatMap(({ path, cmd }) =>
    helpOf(cmd).split('\n').map((line) => ({ where: `mesh ${path} --help`.replace('  ', ' '), line })));
}

test('no help line of any command is wider than 100 columns, examples included', () => {
  for (const columns of ['100', '200']) {
    const wide = helpLines(columns).filter(({ line }) => line.length > 100).map(({ where, line }) => `${where} (${line.length}): ${line}`);
    assert.deepEqual(wide, [], `COLUMNS=${columns}`);
  }
});

test('help prose wraps to the help width (80 by default); only example lines may run past it', () => {
  const wide = helpLines('').filter(({ line }) => line.length > 80 && !EXAMPLE_LINE.test(line)).map(({ where, line }) => `${where} (${line.length}): ${line}`);
  assert.deepEqual(wide, []);
});

test('the help width is the terminal\'s, else $COLUMNS, else 80, and at most 100', () => {
  assert.equal(helpWidth(bufferIo({})), 80);
  assert.equal(helpWidth(bufferIo({ COLUMNS: '90' })), 90);
  assert.equal(helpWidth(bufferIo({ COLUMNS: '250' })), 100);
  assert.equal(helpWidth(bufferIo({ COLUMNS: 'wide' })), 80);
  assert.equal(helpWidth({ ...bufferIo({ COLUMNS: '90' }), columns: 72 }), 72);
  assert.equal(helpWidth({ ...bufferIo({}), columns: 20 }), 40);
});

test('help notes re-wrap prose lines and keep indented lines as written', () => {
  const text = '\nExit status: 0 when the decision was made, 1 otherwise.\n\nExamples:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42';
  assert.equal(helpNotes(text, 30), '\nExit status: 0 when the\ndecision was made, 1\notherwise.\n\nExamples:\n  mesh authz test --policy policy.yaml --from web --to orders GET /orders/42');
});
