// What a LOCK file says about its holder, and whether that holder still holds it.
//
// The file's first line is the holder's pid (so `kill $(head -1 LOCK)` works); then `boot_id=` and
// `start_time=` lines name the process exactly where /proc exists. Older versions of mesh wrote the pid alone.
import type { ProcessIdentity, ProcessProbe } from './process-identity.js';

export function formatLockOwner(owner: ProcessIdentity): string {
  let text = `${owner.pid}\n`;
  if (owner.bootId) text += `boot_id=${owner.bootId}\n`;
  if (owner.startTime) text += `start_time=${owner.startTime}\n`;
  return text;
}

/** The holder a LOCK file names, or undefined when it names none (empty or unreadable content). */
export function parseLockOwner(text: string): ProcessIdentity | undefined {
  const [first, ...rest] = text.split('\n');
  const pidText = first?.trim() ?? '';
  if (!/^\d+$/.test(pidText) || Number(pidText) <= 0) return undefined;
  const owner: ProcessIdentity = { pid: Number(pidText) };
  for (const line of rest) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (eq < 0 || value === '') continue;
    if (key === 'boot_id') owner.bootId = value;
    else if (key === 'start_time') owner.startTime = value;
  }
  return owner;
}

/** A daemon or a repair: the mesh processes that take a data dir's lock. */
export function isRegistryCommandLine(argv: readonly string[]): boolean {
  const i = argv.indexOf('registry');
  return i >= 0 && (argv[i + 1] === 'start' || argv[i + 1] === 'repair');
}

export type LockVerdict = { held: true; pid: number } | { held: false; why: string };

/**
 * Whether the process a LOCK names still holds it: it must be alive, not this process, and the same process that
 * wrote the file (same boot, same start time). A lock from an older mesh names only a pid; then the live process
 * with that pid must be a mesh registry. Where /proc cannot answer, a live pid other than ours counts as held.
 * The caller has already refused if this process itself holds the lock (see lock.ts), so our own pid in the file
 * is a previous life of this pid: PID 1 in a restarted container, or pid reuse after a reboot.
 */
export function judgeLockOwner(owner: ProcessIdentity | undefined, probe: ProcessProbe): LockVerdict {
  if (owner === undefined) return { held: false, why: 'it names no pid' };
  const { pid } = owner;
  if (pid === probe.pid) return { held: false, why: `it names pid ${pid}, which is this process: a previous daemon that had the same pid` };
  if (!probe.alive(pid)) return { held: false, why: `pid ${pid} is not running` };
  const bootId = probe.bootId();
  if (owner.bootId && bootId && owner.bootId !== bootId) return { held: false, why: `pid ${pid} wrote it before the machine rebooted` };
  const startTime = probe.startTime(pid);
  if (owner.startTime && startTime !== undefined) {
    return owner.startTime === startTime ? { held: true, pid } : { held: false, why: `pid ${pid} is now another process (its start time differs)` };
  }
  if (!owner.startTime) {
    const argv = probe.cmdline(pid);
    if (argv !== undefined && !isRegistryCommandLine(argv)) return { held: false, why: `pid ${pid} is not a mesh registry (${argv.slice(0, 3).join(' ')})` };
  }
  return { held: true, pid };
}
