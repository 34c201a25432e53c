// The CLI's error conventions, command by command, through the real bin/mesh: bad usage prints ONE stderr
// line and exits 2 (nothing on stdout); an unreachable registry or proxy prints one line naming the URL and
// exits 1; no stack trace appears unless --debug asks for one. Unreachable cases point at a closed loopback port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runMesh, type RunResult } from '../helpers/mesh.js';

interface Case { args: string[]; code: 1 | 2; stderr: RegExp }

const STACK = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

function usageCases(): Case[] {
  const u = (args: string[], stderr: RegExp): Case => ({ args, code: 2, stderr });
  return [
    u(['nosuch'], /unknown command 'nosuch'/),
    u(['registry', 'start', '--listen', 'nope'], /invalid listen "nope"/),
    u(['registry', 'start', '--store', 'mongo'], /--store|mongo/),
    u(['registry', 'status', '--bogus'], /unknown option '--bogus'/),
    u(['register'], /--address/),
    u(['register', 'Orders', '--address', '127.0.0.1:80'], /invalid service name "Orders"/),
    u(['register', 'orders', '--address', 'x'], /invalid address "x"/),
    u(['register', 'orders', '--address', '127.0.0.1:80', '--weight', '0'], /--weight: invalid value "0"/),
    u(['register', 'orders', '--address', '127.0.0.1:80', '--priority', '-1'], /--priority/),
    u(['register', 'orders', '--address', '127.0.0.1:80', '--ttl', 'soon'], /--ttl: invalid ttl "soon"/),
    u(['deregister', 'orders'], /missing required argument 'id'/),
    u(['services', '--registry', 'notaurl'], /invalid registry URL "notaurl"/),
    u(['run'], /missing required argument 'service'/),
    u(['certs', 'ca', 'init', '--days', 'x'], /--days: invalid value "x"/),
    u(['certs', 'gen'], /missing required argument 'service'/),
    u(['certs', 'inspect'], /missing required argument 'file'/),
    u(['authz', 'test', '--to', 'orders', 'GET', '/'], /--from/),
    u(['authz', 'test', '--from', 'web', '--to', 'orders', 'GET'], /missing required argument 'path'/),
    u(['curl'], /--as/),
    u(['routes', '--bogus'], /unknown option '--bogus'/),
    u(['routes', 'explain'], /missing required argument 'url'/),
    u(['proxy', 'start', '--workers', '0'], /--workers: invalid value "0"/),
    u(['top', '--bogus'], /unknown option '--bogus'/),
    u(['demo', '--duration', 'x'], /--duration: invalid duration "x"/),
    u(['check', '--bogus'], /unknown option '--bogus'/),
  ];
}

function unreachableCases(registry: string, proxy: string): Case[] {
  const r = (args: string[]): Case => ({ args: [...args, '--registry', registry], code: 1, stderr: new RegExp(`registry at ${registry.replace(/[.]/g, '\\.')} is unreachable`) });
  const p = (args: string[]): Case => ({ args: [...args, '--proxy', proxy], code: 1, stderr: new RegExp(`proxy admin at ${proxy.replace(/[.]/g, '\\.')} is unreachable`) });
  return [
    r(['registry', 'status']),
    r(['register', 'orders', '--address', '127.0.0.1:8081']),
    r(['register', 'orders', '--address', '127.0.0.1:8081', '--ttl', '5s', '--keep-alive']),
    r(['deregister', 'orders', 'orders-1']),
    r(['services']),
    r(['services', 'orders', '--json']),
    p(['routes']),
    p(['routes', 'explain', 'http://orders/']),
  ];
}

/** Runs the cases a few at a time: each is a short-lived process, and the machine has two cores. */
async function runAll(cases: Case[]): Promise<RunResult[]> {
  const results: RunResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runMesh(cases[i]!.args, { timeoutMs: 15_000 });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

function assertConvention(c: Case, res: RunResult): void {
  const what = `mesh ${c.args.join(' ')}\nstderr: ${res.stderr}\nstdout: ${res.stdout}`;
  assert.equal(res.code, c.code, `exit code of ${what}`);
  assert.equal(res.stderr.split('\n').filter((l) => l !== '').length, 1, `one stderr line from ${what}`);
  assert.match(res.stderr, /^mesh: /, what);
  assert.match(res.stderr, c.stderr, what);
  assert.doesNotMatch(res.stderr, STACK, `no stack trace from ${what}`);
  if (c.code === 2) assert.equal(res.stdout, '', `nothing on stdout from ${what}`);
}

test('usage errors: one stderr line, exit 2, for every command', { timeout: 60_000 }, async () => {
  const cases = usageCases();
  const results = await runAll(cases);
  cases.forEach((c, i) => assertConvention(c, results[i]!));
});

test('unreachable registry or proxy: one line naming the URL, exit 1; --debug adds the stack', { timeout: 60_000 }, async () => {
  const registry = `http://127.0.0.1:${await freePort()}`;
  const proxy = `http://127.0.0.1:${await freePort()}`;
  const cases = unreachableCases(registry, proxy);
  const results = await runAll(cases);
  cases.forEach((c, i) => assertConvention(c, results[i]!));

  const debug = await runMesh(['--debug', 'services', '--registry', registry]);
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /^mesh: registry at .* is unreachable/);
  assert.match(debug.stderr, STACK, 'with --debug the stack trace follows the message');
});

test('mesh check with nothing running: exit 1, one × line per check naming the URL, no stack', { timeout: 30_000 }, async () => {
  const registry = `http://127.0.0.1:${await freePort()}`;
  const proxy = `http://127.0.0.1:${await freePort()}`;
  const res = await runMesh(['check', '--registry', registry, '--proxy', proxy]);
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stdout, new RegExp(`× registry at ${registry.replace(/[.]/g, '\\.')} is unreachable`));
  assert.match(res.stdout, new RegExp(`× proxy admin at ${proxy.replace(/[.]/g, '\\.')} is unreachable`));
  assert.doesNotMatch(res.stdout + res.stderr, STACK);
});

test('--help from the real binary wraps to $COLUMNS when piped (80 without it) and never passes 100 columns', { timeout: 30_000 }, async () => {
  const longest = (text: string, skipExamples: boolean) => Math.max(...text.split('\n')
    .filter((l) => !(skipExamples && /^ {2}(npx )?(mesh|curl) |^ {4}-/.test(l))).map((l) => l.length));
  for (const args of [['proxy', 'start', '--help'], ['curl', '--help'], ['top', '--help'], ['register', '--help'], ['authz', 'test', '--help']]) {
    const piped = await runMesh(args, { env: { COLUMNS: '' } });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(longest(piped.stdout, true) <= 80, `mesh ${args.join(' ')} wraps its prose to 80 columns`);
    assert.ok(longest(piped.stdout, false) <= 100, `mesh ${args.join(' ')} has no line over 100 columns`);
    const narrow = await runMesh(args, { env: { COLUMNS: '70' } });
    assert.ok(longest(narrow.stdout, true) <= 70, `mesh ${args.join(' ')} with COLUMNS=70 wraps its prose to 70`);
  }
});
