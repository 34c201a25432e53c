// Walks the shipped commander program, so tests can check every command and flag a user can type.
import type { Command } from 'commander';
import { bufferIo, type Io } from '../../../src/cli/io.js';
import { buildProgram } from '../../../src/cli/program.js';

export interface CommandNode {
  /** Full path without `mesh`, e.g. `certs ca init`. */
  path: string;
  cmd: Command;
  /** Long flags the command itself defines (inherited ones belong to the ancestor that defines them). */
  longFlags: string[];
  /** Long flags it accepts, its own and its ancestors'. */
  acceptedFlags: string[];
}

/** The whole tree as `mesh` builds it; pass an io to choose the environment (COLUMNS sets the help width). */
export function commandTree(io: Io = bufferIo()): { program: Command; nodes: CommandNode[] } {
  const program = buildProgram(io);
  const nodes: CommandNode[] = [];
  const walk = (cmd: Command, path: string[], inherited: string[]) => {
    for (const sub of cmd.commands) {
      const full = [...path, sub.name()];
      const own = sub.options.map((o) => o.long).filter((l): l is string => l !== undefined);
      nodes.push({ path: full.join(' '), cmd: sub, longFlags: own, acceptedFlags: [...inherited, ...own] });
      walk(sub, full, [...inherited, ...own]);
    }
  };
  walk(program, [], []);
  return { program, nodes };
}

/** What `mesh <path> --help` prints, including text added with addHelpText. */
export function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => { text += s; }, writeErr: (s) => { text += s; } });
  cmd.outputHelp();
  return text;
}
