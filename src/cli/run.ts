// Runs the program with an argv and turns errors into one stderr line and an exit code.
import { CommanderError } from 'commander';
import { isMeshError, MeshError } from '../core/errors.js';
import { processIo, type Io } from './io.js';
import { buildProgram } from './program.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const debug = argv.includes('--debug') || io.env.MESH_DEBUG === '1';
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    return reportError(err, io, debug);
  }
}

export function reportError(err: unknown, io: Io, debug: boolean): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
    // commander already printed its message through configureOutput; nothing more to say.
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (isMeshError(err)) {
    const usage = err.code === 'MESH_ERR_USAGE' || err.code === 'MESH_ERR_INVALID_ARGUMENT';
    io.err(`mesh: ${err.message}${usage || !err.hint ? '' : ` (${err.hint})`}\n`);
    if (debug && err.stack) io.err(`${err.stack}\n`);
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
  const e = err as Error;
  io.err(`mesh: ${e?.message ?? String(err)}${debug ? '' : ' (run with --debug for details)'}\n`);
  if (debug && e?.stack) io.err(`${e.stack}\n`);
  return EXIT_FAILURE;
}

export { MeshError };
