// The demo's daemons (registry, proxy) run as child processes of the demo — one process tree. Their output
// is kept (not shown, so it cannot scribble over the dashboard) and quoted if one fails to start.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MeshError } from '../core/errors.js';

/** bin/mesh of this installation (dist/src/demo → repository root). */
export const MESH_BIN = fileURLToPath(new URL('../../../bin/mesh', import.meta.url));

export interface Child {
  name: string;
  process: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
// If the demo dies without stopping its children (an uncaught error), take them down with it.
process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });

/** Starts `mesh <args>` and resolves with the first match of `ready` in its output. */
export async function startChild(name: string, args: string[], ready: RegExp, timeoutMs = 15_000): Promise<{ child: Child; match: RegExpMatchArray }> {
  const proc = spawn(process.execPath, [MESH_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  live.add(proc);
  let out = '';
  const exited = new Promise<void>((r) => proc.once('exit', () => { live.delete(proc); r(); }));
  const child: Child = {
    name,
    process: proc,
    output: () => out,
    async stop(graceMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => {
      const m = out.match(ready);
      if (m) { cleanup(); resolve(m); }
    };
    const onExit = (code: number | null) => { cleanup(); reject(new MeshError('MESH_ERR_CHILD_FAILED', `the demo's ${name} exited (${code}) before it was ready: ${lastLine(out)}`)); };
    const timer = setTimeout(() => { cleanup(); void child.stop(); reject(new MeshError('MESH_ERR_CHILD_FAILED', `the demo's ${name} was not ready within ${timeoutMs} ms: ${lastLine(out)}`)); }, timeoutMs);
    const onData = (d: Buffer) => { out += d.toString('utf8'); check(); };
    const cleanup = () => { clearTimeout(timer); proc.stdout!.off('data', onData); proc.stderr!.off('data', onData); proc.off('exit', onExit); };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', onExit);
  });
  // Keep draining the pipes so the child never blocks on a full one; remember only the tail.
  const keep = (d: Buffer) => { out = (out + d.toString('utf8')).slice(-16_384); };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { child, match };
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '(no output)';
}
