"use client";

// The picked runs' evaluation reports side by side: each run's report of its best checkpoint on
// val (else its first stored one). Reports on the same image files (equal file-list hashes)
// share a letter: only those compare image for image.
import { useQueries } from "@tanstack/react-query";
import Link from "next/link";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import type { PickedRun } from "./use-comparison";

type Summary = Schemas["ReportSummary"];

function pick(items: Summary[]): Summary | undefined {
  return items.find((r) => r.checkpoint === "best" && r.split === "val") ?? items[0];
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function ReportTable({ runs }: { runs: PickedRun[] }) {
  const lists = useQueries({
    queries: runs.map((run) => ({
      queryKey: ["run", run.id, "reports"] as const,
      queryFn: () => unwrap(api.GET("/runs/{run_id}/reports", { params: { path: { run_id: run.id } } })),
    })),
  });
  const rows = runs.map((run, i) => ({ run, report: pick(lists[i]?.data?.items ?? []) }));
  if (!rows.some((r) => r.report)) return null;
  const sets = [...new Set(rows.flatMap((r) => (r.report ? [r.report.file_list_sha256] : [])))];
  const letter = (sha: string) => String.fromCharCode(65 + sets.indexOf(sha));
  const best = (key: "accuracy" | "macro_f1" | "ece", lower = false) => {
    const values = rows.flatMap((r) => (r.report ? [r.report[key]] : []));
    return lower ? Math.min(...values) : Math.max(...values);
  };
  const top = { accuracy: best("accuracy"), macro_f1: best("macro_f1"), ece: best("ece", true) };
  return (
    <section aria-labelledby="reports-title" className="flex flex-col gap-2">
      <div>
        <h2 id="reports-title" className="text-base font-semibold">
          Evaluation reports
        </h2>
        <p className="text-sm text-muted-foreground">
          Each run&apos;s report of its best checkpoint on val. Reports with the same image set letter were computed on the same
          files; compare the others with care.
        </p>
      </div>
      <div className="overflow-x-auto rounded-lg border">
        <table className="w-full text-sm" data-report-table>
          <caption className="sr-only">Evaluation reports of the compared runs</caption>
          <thead className="border-b text-left text-xs text-muted-foreground">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">Run</th>
              <th scope="col" className="px-3 py-2 font-medium">Report</th>
              <th scope="col" className="px-3 py-2 font-medium">Image set</th>
              <th scope="col" className="px-3 py-2 text-right font-medium">Accuracy</th>
              <th scope="col" className="px-3 py-2 text-right font-medium">Macro F1</th>
              <th scope="col" className="px-3 py-2 text-right font-medium">ECE</th>
              <th scope="col" className="px-3 py-2 text-right font-medium">Label errors</th>
            </tr>
          </thead>
          <tbody className="divide-y tabular-nums">
            {rows.map(({ run, report }) => (
              <tr key={run.id}>
                <th scope="row" className="px-3 py-1.5 text-left font-medium">
                  <span className="mr-2 inline-block size-2.5 rounded-full" style={{ background: run.color }} aria-hidden />
                  <Link href={`/run/?id=${run.id}&tab=evaluation`} className="hover:underline">
                    {run.detail?.name ?? `Run ${run.id}`}
                  </Link>
                </th>
                {report ? (
                  <>
                    <td className="px-3 py-1.5">
                      {report.checkpoint} on {report.split === "upload" ? "uploaded set" : report.split}
                    </td>
                    <td className="px-3 py-1.5" title={report.file_list_sha256}>
                      {letter(report.file_list_sha256)} · {report.num_samples} images
                    </td>
                    <td className={`px-3 py-1.5 text-right ${report.accuracy === top.accuracy ? "font-semibold" : ""}`}>
                      {pct(report.accuracy)}
                    </td>
                    <td className={`px-3 py-1.5 text-right ${report.macro_f1 === top.macro_f1 ? "font-semibold" : ""}`}>
                      {report.macro_f1.toFixed(3)}
                    </td>
                    <td className={`px-3 py-1.5 text-right ${report.ece === top.ece ? "font-semibold" : ""}`}>
                      {report.ece.toFixed(3)}
                    </td>
                    <td className="px-3 py-1.5 text-right">{report.label_issues}</td>
                  </>
                ) : (
                  <td colSpan={6} className="px-3 py-1.5 text-muted-foreground">
                    No report yet
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
