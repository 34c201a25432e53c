// Commands print through an Io so tests capture what they print; only main.ts touches process.exit.

export interface Io {
  /** Data: tables, JSON. */
  out(text: string): void;
  /** Messages: progress, warnings, errors. */
  err(text: string): void;
  /** Whether stdout is a terminal (tables get colour, dashboards may draw). */
  readonly stdoutIsTTY: boolean;
  /** The terminal's width when stdout is one (help text wraps to it). */
  readonly columns?: number;
  readonly env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return {
    out: (text) => { process.stdout.write(text); },
    err: (text) => { process.stderr.write(text); },
    stdoutIsTTY: process.stdout.isTTY === true,
    ...(process.stdout.isTTY === true && process.stdout.columns > 0 ? { columns: process.stdout.columns } : {}),
    env: process.env,
  };
}

/** An Io that records everything, for tests. */
export function bufferIo(env: NodeJS.ProcessEnv = {}): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(text: string) { io.stdout += text; },
    err(text: string) { io.stderr += text; },
    stdoutIsTTY: false,
    env,
  };
  return io;
}
