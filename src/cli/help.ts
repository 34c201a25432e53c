// How wide `--help` is. Decision: the terminal's width when stdout is a terminal, else $COLUMNS, else 80; never
// more than 100 columns, because prose wider than that is hard to read. Commander wraps descriptions to this
// width; notes added after the options go through helpNotes. Example lines are never wrapped, so they stay
// copy-pasteable: they are written to fit in 100 columns (a unit test holds every command to it).
import type { Io } from './io.js';

export const MAX_HELP_WIDTH = 100;
const DEFAULT_HELP_WIDTH = 80;
/** Below this, wrapping does more harm than good (commander's own minWidthToWrap). */
const MIN_HELP_WIDTH = 40;

export function helpWidth(io: Io): number {
  const columns = io.columns ?? Number(io.env.COLUMNS);
  const width = Number.isInteger(columns) && columns > 0 ? columns : DEFAULT_HELP_WIDTH;
  return Math.min(MAX_HELP_WIDTH, Math.max(MIN_HELP_WIDTH, width));
}

/**
 * Text for addHelpText: each line that starts at column 0 is prose and is re-wrapped to `width`; indented lines
 * (examples, key lists) are kept as written.
 */
export function helpNotes(text: string, width: number): string {
  return text.split('\n').map((line) => (/^\S/.test(line) ? wrapLine(line, width) : line)).join('\n');
}

function wrapLine(line: string, width: number): string {
  const out: string[] = [];
  let current = '';
  for (const word of line.split(/ +/)) {
    if (current !== '' && current.length + 1 + word.length > width) {
      out.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  out.push(current);
  return out.join('\n');
}
