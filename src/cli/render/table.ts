// The table style of the data commands (services, routes, demo): borderless and left-aligned, so output is
// easy to read and to grep. Colour is the renderers' business (cells arrive already coloured, or not).
import Table from 'cli-table3';

/** A borderless, left-aligned table (kubectl style): easy to read and to grep. */
export function plainTable(head: string[], rows: string[][]): string {
  const table = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  table.push(...rows);
  return `${table.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}
