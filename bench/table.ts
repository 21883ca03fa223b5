/** Print an aligned table; columns first..last (inclusive) are right-aligned numbers. */
export function printTable(headers: string[], rows: string[][], first: number, last: number): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i >= first && i <= last ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}
