// CSV of runs, made in the browser from the API's rows: exactly the columns the table shows.
import type { Run } from "@/lib/runs";
import type { CellContext, RunColumn } from "./run-columns";

/** Quote per RFC 4180; text a spreadsheet would run as a formula gets a leading quote. */
function cell(value: string, numeric: boolean): string {
  let text = value;
  if (!numeric && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function runsCsv(runs: Run[], columns: RunColumn[], ctx: CellContext): string {
  const header = ["id", "name", ...columns.map((c) => (c.detail && c.valueKey ? c.id : c.label.toLowerCase()))];
  const lines = [header.map((h) => cell(h, false)).join(",")];
  for (const run of runs) {
    const values = [String(run.id), cell(run.name, false)];
    for (const column of columns) {
      // CSV wants raw numbers and ISO times, not the table's rounded, relative text
      const text =
        column.id === "created"
          ? run.created_at
          : column.id === "duration"
            ? String(run.summary.duration_s ?? "")
            : column.text(run, ctx);
      values.push(cell(text, column.numeric ?? false));
    }
    lines.push(values.join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

export function downloadText(filename: string, text: string, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
