// What every command's registration and action gets from the program (program.ts builds it once). Its own
// module so commands/ and actions/ need not import program.ts, which imports every command: that was a circle
// through the whole CLI.
import type { Io } from './io.js';

export interface CommandContext {
  io: Io;
  /** The width help text wraps to (see help.ts); notes after the options go through helpNotes(text, helpWidth). */
  helpWidth: number;
}
