// Every table of the explorer: a caption, a CSV download of exactly what it shows, and cells that
// may render links while the CSV keeps the plain value.
import type { ComponentChildren } from "preact";
import { type Cell, downloadCsv } from "../csv.ts";

export interface Column<R> {
  header: string;
  value: (row: R) => Cell;
  render?: (row: R) => ComponentChildren;
  numeric?: boolean;
}

export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return value.toFixed(digits);
}

/** A cell as text: numbers formatted, booleans as yes/no (JSX would print nothing for them). */
const show = (v: Cell): string => (typeof v === "number" ? fmt(v) : typeof v === "boolean" ? (v ? "yes" : "no") : (v ?? ""));

export function DataTable<R>({ caption, file, columns, rows, empty = "None." }: { caption: string; file: string; columns: Column<R>[]; rows: R[]; empty?: string }) {
  const download = () => downloadCsv(file, columns.map((c) => c.header), rows.map((r) => columns.map((c) => c.value(r))));
  return (
    <div class="table-wrap">
      <div class="table-head">
        <h3>{caption}</h3>
        <button type="button" class="csv" onClick={download} disabled={rows.length === 0} aria-label={`Download ${caption} as CSV`}>
          CSV
        </button>
      </div>
      {rows.length === 0 ? (
        <p class="empty">{empty}</p>
      ) : (
        <table data-table={file}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th scope="col" class={c.numeric ? "num" : undefined}>
                  {c.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                {columns.map((c) => (
                  <td class={c.numeric ? "num" : undefined}>{c.render ? c.render(r) : show(c.value(r))}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
