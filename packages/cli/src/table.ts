/**
 * A plain-text table: a header row and left-aligned columns padded to their widest cell
 * (right-aligned for columns named in `right`, e.g. amounts).
 */
export function formatTable(args: {
  columns: readonly string[];
  rows: readonly (readonly string[])[];
  right?: readonly string[];
}): string {
  const widths = args.columns.map((c, i) => Math.max(c.length, ...args.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        args.right?.includes(args.columns[i] ?? "") ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(args.columns), ...args.rows.map(line)].join("\n");
}
