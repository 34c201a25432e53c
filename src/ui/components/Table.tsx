// A fixed-width table row renderer shared by the service and endpoint tables: columns that do not fit the
// width are dropped (never wrapped), cells are cut with "…", so a narrow terminal truncates, never garbles.
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { fitColumns, padCell, type Column } from '../format.js';

export interface TableProps<Row> {
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  width: number;
  /** Index of the highlighted row, if any. */
  selected?: number;
  /** Column key the table is sorted by (its title gets an arrow). */
  sortKey?: string;
  rowKey(row: Row): string;
}

export function Table<Row>({ columns, rows, width, selected, sortKey, rowKey }: TableProps<Row>): ReactElement {
  // A selectable table marks the selected row with "›" as well as inverse video (which a copy of the screen loses).
  const marker = selected === undefined ? 0 : 2;
  const cols = fitColumns(columns, width - marker);
  const head = ' '.repeat(marker) + cols.map((c) => padCell(c.key === sortKey ? `${c.title}▼` : c.title, c.width, c.align)).join(' ');
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{head}</Text>
      {rows.map((row, i) => (
        <Text key={rowKey(row)} inverse={i === selected} wrap="truncate-end">
          {marker > 0 ? (i === selected ? '› ' : '  ') : ''}
          {cols.map((c, j) => (
            <Text key={c.key} color={c.color?.(row)}>{(j > 0 ? ' ' : '') + padCell(c.cell(row), c.width, c.align)}</Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
