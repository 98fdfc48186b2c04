// Text tables for the terminal: columns of a fixed width, right-aligned figures, left-aligned
// names, one heading line. Every table of the run summary (report/human.ts), the comparison's
// (engine/compare.ts) and the sweep's summary (cli/compare.ts) goes through here.

/** A column: its heading, its width, and the text of a row's cell. */
export interface TextColumn<R> {
  readonly head: string;
  readonly width: number;
  /** The cell's text (padded to `width`). */
  readonly cell: (row: R) => string;
  /** Left-aligned (names, indexes); figures are right-aligned. */
  readonly left?: boolean;
  /** Spaces between a right-aligned heading and the column's right edge (0 by default). */
  readonly headInset?: number;
  /** What separates this column from the one before it (the table's `sep` by default); before the first, an indent. */
  readonly gap?: string;
}

const aligned = (text: string, width: number, left: boolean | undefined) => (left ? text.padEnd(width) : text.padStart(width));

/** The heading line and a line per row, joined by newlines; no line ends in a blank. */
export function textTable<R>(columns: readonly TextColumn<R>[], rows: readonly R[], sep = ' '): string {
  const line = (cellOf: (c: TextColumn<R>) => string) =>
    columns
      .map((c, i) => (c.gap ?? (i === 0 ? '' : sep)) + aligned(cellOf(c), c.width, c.left))
      .join('')
      .trimEnd();
  const head = line((c) => (c.left ? c.head : c.head + ' '.repeat(c.headInset ?? 0)));
  return [head, ...rows.map((r) => line((c) => c.cell(r)))].join('\n');
}
