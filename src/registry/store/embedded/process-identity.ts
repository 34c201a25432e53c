// Who a pid is. A pid alone does not name a process: after a reboot, or in a container where every daemon is
// PID 1, the pid in an old LOCK file can belong to a live process that has nothing to do with it (or to the very
// process reading it). On Linux a process is named by (boot id, pid, start time): the start time in
// /proc/<pid>/stat (field 22, clock ticks since boot) differs between two processes that share a pid, and the
// boot id tells a pid from before a reboot. Elsewhere only "is the pid alive" can be asked.
import { readFileSync } from 'node:fs';

/** What the lock records about its holder; bootId and startTime are absent where /proc is not. */
export interface ProcessIdentity {
  pid: number;
  bootId?: string;
  startTime?: string;
}

/** The questions the lock asks about processes; tests pass their own answers. */
export interface ProcessProbe {
  /** This process's pid. */
  readonly pid: number;
  alive(pid: number): boolean;
  /** The kernel's boot id, or undefined where it cannot be read. */
  bootId(): string | undefined;
  /** The process's start time (opaque, comparable for equality), or undefined where it cannot be read. */
  startTime(pid: number): string | undefined;
  /** The process's argv, or undefined where it cannot be read. */
  cmdline(pid: number): string[] | undefined;
}

function readProc(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** Field 22 of /proc/<pid>/stat. The command name (field 2) is in parentheses and may hold spaces or ')'. */
export function startTimeFromStat(stat: string): string | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (the state), so field 22 is fields[19].
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

export const systemProbe: ProcessProbe = {
  pid: process.pid,
  alive(pid) {
    // EPERM: the process exists but belongs to another user.
    try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
  },
  bootId() { return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined; },
  startTime(pid) {
    const stat = readProc(`/proc/${pid}/stat`);
    return stat === undefined ? undefined : startTimeFromStat(stat);
  },
  cmdline(pid) {
    const text = readProc(`/proc/${pid}/cmdline`);
    return text === undefined ? undefined : text.split('\0').filter((a) => a !== '');
  },
};

/** This process, as the lock records it. */
export function selfIdentity(probe: ProcessProbe): ProcessIdentity {
  const bootId = probe.bootId();
  const startTime = probe.startTime(probe.pid);
  return { pid: probe.pid, ...(bootId ? { bootId } : {}), ...(startTime ? { startTime } : {}) };
}
