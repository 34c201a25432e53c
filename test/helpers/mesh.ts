// Test helpers for real processes: run the real bin/mesh on loopback ephemeral ports, wait for its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MESH_BIN = join(REPO_ROOT, 'bin', 'mesh');

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

const CLEAN_ENV: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(CLEAN_ENV)) if (k.startsWith('MESH_')) delete CLEAN_ENV[k];

/** Runs `mesh args…` to completion (bounded by timeoutMs) and returns its exit code and output. */
export function runMesh(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MESH_BIN, ...args], {
      env: { ...CLEAN_ENV, ...opts.env },
      cwd: opts.cwd ?? REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`mesh ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`)); }, opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

export interface Daemon {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the first stderr/stdout line matching re (rejects after timeoutMs). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal and waits for exit; SIGKILL after timeoutMs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running `mesh …` (a daemon) and gives handles to wait on its output. */
export function startMesh(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; nodeArgs?: string[]; bin?: string } = {}): Daemon {
  // nodeArgs: flags for node itself, such as --cpu-prof (which Node 20 refuses in NODE_OPTIONS); bin: another
  // checkout's bin/mesh (a benchmark's A/B baseline).
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? MESH_BIN, ...args], {
    env: { ...CLEAN_ENV, ...opts.env },
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => { for (const w of [...waiters]) w(); };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; poke(); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; poke(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { poke(); resolve({ code, signal }); });
  });
  const daemon: Daemon = {
    child,
    stderr: () => err,
    stdout: () => out,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = err.match(re) ?? out.match(re);
          if (m) { cleanup(); resolve(m); return; }
          if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`mesh ${args.join(' ')} exited (${child.exitCode ?? child.signalCode}) before printing ${re}\nstderr: ${err}\nstdout: ${out}`));
          }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${re}\nstderr: ${err}\nstdout: ${out}`)); }, timeoutMs);
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const r = await exited;
        clearTimeout(timer);
        return r;
      }
      return exited;
    },
    exited,
  };
  return daemon;
}

/** A free loopback TCP port (there is a small race between closing and reuse; tests accept it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'mesh-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }) };
}

/** Polls fn until it returns a truthy value (bounded by timeoutMs); for state that has no event to await. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
