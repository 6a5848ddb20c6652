/**
 * The assurance suites' summary table: one row per scenario, the same columns in `npm test` and `npm run soak`, so a
 * reader sees at once what was injected or tried and what was lost, duplicated or crashed.
 */
export interface SummaryRow {
  suite: string;
  scenario: string;
  /** Faults injected (failed calls, dropped connections, kills) or hostile cases tried. */
  injected: number;
  /** Notifications sent (Exchange POSTs, counted once per distinct body), or requests sent by a fuzzer. */
  sent: number;
  pushesExpected: number;
  pushesReceived: number;
  lost: number;
  duplicates: number;
  /** Duplicates the design allows for this scenario (see docs/assurance.md). */
  duplicatesAllowed: number;
  /** 5xx answers where the contract allows none, transport errors, hangs over the bound, unexpected statuses. */
  crashes: number;
  note?: string;
}

export function emptyRow(suite: string, scenario: string): SummaryRow {
  return { suite, scenario, injected: 0, sent: 0, pushesExpected: 0, pushesReceived: 0, lost: 0, duplicates: 0, duplicatesAllowed: 0, crashes: 0 };
}

/** True when the row shows nothing lost, no duplicate beyond what the design allows, and no crash. */
export function rowHolds(row: SummaryRow): boolean {
  return row.lost === 0 && row.duplicates <= row.duplicatesAllowed && row.crashes === 0;
}

const COLUMNS: Array<[keyof SummaryRow, string]> = [
  ['suite', 'suite'],
  ['scenario', 'scenario'],
  ['injected', 'faults/cases'],
  ['sent', 'sent'],
  ['pushesExpected', 'pushes expected'],
  ['pushesReceived', 'pushes received'],
  ['lost', 'lost'],
  ['duplicates', 'duplicates'],
  ['duplicatesAllowed', 'dup. allowed'],
  ['crashes', 'crashes'],
];

/** A Markdown table (it reads fine in a terminal too), with a total line and a verdict per row. */
export function formatSummary(rows: SummaryRow[]): string {
  const header = [...COLUMNS.map(([, title]) => title), 'holds'];
  const total: SummaryRow = rows.reduce(
    (sum, row) => ({
      ...sum,
      injected: sum.injected + row.injected,
      sent: sum.sent + row.sent,
      pushesExpected: sum.pushesExpected + row.pushesExpected,
      pushesReceived: sum.pushesReceived + row.pushesReceived,
      lost: sum.lost + row.lost,
      duplicates: sum.duplicates + row.duplicates,
      duplicatesAllowed: sum.duplicatesAllowed + row.duplicatesAllowed,
      crashes: sum.crashes + row.crashes,
    }),
    emptyRow('total', ''),
  );
  const lines = [...rows, total].map((row) => [
    ...COLUMNS.map(([key]) => String(row[key] ?? '')),
    row === total ? (rows.every(rowHolds) ? 'yes' : 'NO') : rowHolds(row) ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  const notes = rows.filter((row) => row.note).map((row) => `- ${row.suite} / ${row.scenario}: ${row.note}`);
  return [render(header), render(widths.map((width) => '-'.repeat(width))), ...lines.map(render), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

/** Prints the table to stdout (vitest shows it under the file; the soak prints it at the end). */
export function printSummary(title: string, rows: SummaryRow[]): void {
  process.stdout.write(`\n${title}\n\n${formatSummary(rows)}\n\n`);
}
