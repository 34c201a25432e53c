// Whether a LOCK's holder still holds it, decided from injected process facts: every case a real machine makes
// hard to stage (our own pid in the file, pid reuse, a reboot, no /proc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLockOwner, judgeLockOwner, parseLockOwner } from '../../../src/registry/store/embedded/lock-owner.js';
import { startTimeFromStat, type ProcessIdentity, type ProcessProbe } from '../../../src/registry/store/embedded/process-identity.js';

const BOOT = 'b00t-1';
interface Proc { startTime?: string; argv?: string[] }

/** A machine where `procs` run, seen from pid `self`; proc: false is a system without /proc. */
function probe(self: number, procs: Record<number, Proc>, opts: { proc?: boolean } = {}): ProcessProbe {
  const proc = opts.proc ?? true;
  return {
    pid: self,
    alive: (pid) => pid in procs,
    bootId: () => (proc ? BOOT : undefined),
    startTime: (pid) => (proc ? procs[pid]?.startTime : undefined),
    cmdline: (pid) => (proc ? procs[pid]?.argv : undefined),
  };
}

const registry = ['/usr/bin/node', '/opt/mesh/bin/mesh', 'registry', 'start', '--data-dir', '/d'];
const machine = { 1: { startTime: '900', argv: registry }, 40: { startTime: '500', argv: registry }, 41: { startTime: '777', argv: ['sleep', '30'] } };

const cases: { name: string; owner: ProcessIdentity | undefined; self?: number; proc?: boolean; held: boolean; why?: RegExp }[] = [
  { name: 'the live daemon that wrote it', owner: { pid: 40, bootId: BOOT, startTime: '500' }, held: true },
  { name: 'our own pid (PID 1 restarted in a container)', owner: { pid: 1, bootId: BOOT, startTime: '100' }, self: 1, held: false, why: /which is this process/ },
  { name: 'a dead pid', owner: { pid: 77, bootId: BOOT, startTime: '500' }, held: false, why: /pid 77 is not running/ },
  { name: 'a reused pid (another start time)', owner: { pid: 41, bootId: BOOT, startTime: '12' }, held: false, why: /start time differs/ },
  { name: 'a live daemon with the pid, but written before a reboot', owner: { pid: 40, bootId: 'b00t-0', startTime: '500' }, held: false, why: /before the machine rebooted/ },
  { name: 'an older mesh\'s pid-only lock, pid now a mesh registry', owner: { pid: 40 }, held: true },
  { name: 'an older mesh\'s pid-only lock, pid now `sleep`', owner: { pid: 41 }, held: false, why: /pid 41 is not a mesh registry \(sleep 30\)/ },
  { name: 'no /proc: a live pid other than ours holds it', owner: { pid: 41, startTime: '12' }, proc: false, held: true },
  { name: 'no /proc: our own pid is still stale', owner: { pid: 5 }, self: 5, proc: false, held: false },
  { name: 'an empty LOCK', owner: undefined, held: false, why: /names no pid/ },
];

for (const c of cases) {
  test(`lock verdict: ${c.name}`, () => {
    const verdict = judgeLockOwner(c.owner, probe(c.self ?? 1000, machine, { proc: c.proc ?? true }));
    assert.equal(verdict.held, c.held);
    if (!verdict.held && c.why) assert.match(verdict.why, c.why);
  });
}

test('the LOCK format round-trips, starts with the bare pid, and reads an older pid-only file', () => {
  const owner = { pid: 4321, bootId: 'e3c0-11', startTime: '98765' };
  const text = formatLockOwner(owner);
  assert.equal(text.split('\n')[0], '4321');
  assert.deepEqual(parseLockOwner(text), owner);
  assert.deepEqual(parseLockOwner('4321\n'), { pid: 4321 });
  assert.equal(parseLockOwner(''), undefined);
  assert.equal(parseLockOwner('not a pid\n'), undefined);
  assert.equal(parseLockOwner('0\n'), undefined);
});

test('start time is field 22 of /proc/<pid>/stat even when the command name holds spaces and parentheses', () => {
  const rest = Array.from({ length: 50 }, (_, i) => String(i + 3)); // field n holds "n"
  assert.equal(startTimeFromStat(`123 (node) ${rest.join(' ')}`), '22');
  assert.equal(startTimeFromStat(`123 (a) b (c) ${rest.join(' ')}`), '22');
  assert.equal(startTimeFromStat('garbage'), undefined);
});
