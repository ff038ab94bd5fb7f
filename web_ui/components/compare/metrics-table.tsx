"use client";

import { Pin, PinOff } from "lucide-react";
import Link from "next/link";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Tooltip } from "@/components/ui/tooltip";
import type { Schemas } from "@/lib/api/client";
import { cn, formatDuration, formatMetric } from "@/lib/utils";
import {
  bestOf,
  deltaOf,
  guessDirection,
  isPerEpochMetric,
  lastOf,
  winnerIndex,
  type Delta,
  type Direction,
} from "./metric-math";
import type { Comparison, MetricChart, PickedRun } from "./use-comparison";

type Params = Schemas["RunParamsOut"];
const PARAMS: { key: keyof Params; label: string }[] = [
  { key: "lr", label: "lr" },
  { key: "batch_size", label: "batch" },
  { key: "epochs", label: "epochs" },
  { key: "optimizer", label: "optimizer" },
  { key: "scheduler", label: "scheduler" },
  { key: "weight_decay", label: "weight decay" },
  { key: "model_flavour", label: "model" },
];

interface Stat {
  label: "best" | "last";
  direction: Direction;
  values: (number | null)[];
}

/** Per metric, each run's best and last: from the exact per-epoch comparison when the metric
 *  is evaluated per epoch, else from the run's own line (`MetricChart.own`). */
function metricStats(
  metric: string,
  runIds: number[],
  table: Comparison | undefined,
  charts: MetricChart[],
): { direction: Direction; stats: Stat[] } {
  const chart = charts.find((c) => c.metric === metric);
  const fromTable = isPerEpochMetric(metric) && table?.metrics.some((m) => m.name === metric);
  const direction =
    table?.metrics.find((m) => m.name === metric)?.direction ?? chart?.direction ?? guessDirection(metric);
  const values = runIds.map((id) => {
    if (!fromTable && chart?.own) {
      // Per-step metrics are not in `series` (empty under per-step and time charts, thinned
      // rows under charts of differences) but in each run's own line, downsampled on the
      // server with every bucket's extremes and the last point: its best and last are the run's.
      const line = chart.own.find((l) => l.runId === id);
      return { best: line ? bestOf(line.y, direction) : null, last: line ? lastOf(line.y) : null };
    }
    const series = fromTable
      ? (table!.columns.find((c) => c.run_id === id && c.metric === metric)?.values ?? [])
      : (chart?.series.find((s) => s.runId === id)?.values ?? []);
    return { best: bestOf(series, direction), last: lastOf(series) };
  });
  const last: Stat = { label: "last", direction, values: values.map((v) => v.last) };
  if (!direction) return { direction, stats: [last] };
  return { direction, stats: [{ label: "best", direction, values: values.map((v) => v.best) }, last] };
}

function DeltaText({ delta }: { delta: Delta }) {
  const sign = delta.diff > 0 ? "+" : "";
  const pct = delta.relative != null ? ` (${sign}${(delta.relative * 100).toFixed(1)}%)` : "";
  return (
    <span
      className={cn(
        "block text-xs tabular-nums",
        delta.verdict === "better" && "text-success",
        delta.verdict === "worse" && "text-destructive",
        (delta.verdict === "same" || delta.verdict === null) && "text-muted-foreground",
      )}
      data-delta={delta.verdict ?? "neutral"}
    >
      {delta.diff === 0 ? "±0" : `${sign}${formatMetric(delta.diff)}`}
      {pct}
      {delta.verdict && delta.verdict !== "same" && <span className="sr-only"> ({delta.verdict})</span>}
    </span>
  );
}

function paramText(value: unknown): string {
  if (value == null) return "—";
  if (typeof value === "number") return formatMetric(value);
  return String(value);
}

/** One row per run: state, progress, best/last of each chosen metric with the best of each
 *  column highlighted (in the metric's direction), deltas against the pinned baseline, and the
 *  key hyper-parameters (those that differ between the runs are emphasised). */
export function MetricsTable({
  runs,
  metrics,
  table,
  charts,
  baseline,
  hovered,
  onHover,
  onPin,
}: {
  runs: PickedRun[];
  metrics: string[];
  table: Comparison | undefined;
  charts: MetricChart[];
  baseline: number | null;
  hovered: number | null;
  onHover: (runId: number | null) => void;
  onPin: (runId: number | null) => void;
}) {
  const ids = runs.map((r) => r.id);
  const summaries = runs.map((r) => table?.runs.find((t) => t.id === r.id)?.summary ?? r.detail?.summary);
  const columns = metrics.map((metric) => ({ metric, ...metricStats(metric, ids, table, charts) }));
  const baseIndex = baseline != null ? ids.indexOf(baseline) : -1;
  const params = PARAMS.filter(({ key }) => summaries.some((s) => s?.params[key] != null)).map((p) => ({
    ...p,
    differs: new Set(summaries.map((s) => JSON.stringify(s?.params[p.key] ?? null))).size > 1,
  }));

  return (
    <Card className="overflow-x-auto">
      <table className="w-full text-sm" aria-label="Metrics of the compared runs">
        <thead className="border-b bg-muted/40 text-left text-xs text-muted-foreground">
          <tr>
            <th scope="col" rowSpan={2} className="px-3 py-2 font-medium">
              Run
            </th>
            <th scope="col" rowSpan={2} className="px-3 py-2 font-medium">
              State
            </th>
            <th scope="col" rowSpan={2} className="px-3 py-2 font-medium">
              Epochs
            </th>
            {columns.map((c) => (
              <th
                key={c.metric}
                scope="colgroup"
                colSpan={c.stats.length}
                className="border-l px-3 pt-2 pb-0.5 font-medium whitespace-nowrap text-foreground"
              >
                {c.metric}
                {c.direction && (
                  <span className="ml-1 font-normal text-muted-foreground">
                    ({c.direction === "min" ? "lower is better" : "higher is better"})
                  </span>
                )}
              </th>
            ))}
            {params.map((p) => (
              <th key={p.key} scope="col" rowSpan={2} className={cn("border-l px-3 py-2 font-medium", p.differs && "text-foreground")}>
                {p.label}
              </th>
            ))}
            <th scope="col" rowSpan={2} className="px-3 py-2">
              <span className="sr-only">Baseline</span>
            </th>
          </tr>
          <tr>
            {columns.flatMap((c) =>
              c.stats.map((s, i) => (
                <th key={`${c.metric}-${s.label}`} scope="col" className={cn("px-3 pb-2 font-normal", i === 0 && "border-l")}>
                  {s.label}
                </th>
              )),
            )}
          </tr>
        </thead>
        <tbody className="divide-y">
          {runs.map((run, row) => {
            const summary = summaries[row];
            const name = run.detail?.name ?? `run ${run.id}`;
            const isBaseline = baseline === run.id;
            return (
              <tr
                key={run.id}
                data-run-id={run.id}
                onMouseEnter={() => onHover(run.id)}
                onMouseLeave={() => onHover(null)}
                data-hovered={hovered === run.id || undefined}
                // A bar at the row's start, not a tint: a tint takes the coloured deltas below
                // AA contrast.
                className={cn(
                  "transition-shadow",
                  hovered === run.id && "shadow-[inset_3px_0_0_var(--color-primary)]",
                )}
              >
                <th scope="row" className="px-3 py-2 text-left font-medium">
                  <span className="flex items-center gap-2">
                    <span className="size-2.5 shrink-0 rounded-full" style={{ background: run.color }} aria-hidden />
                    <Link href={`/run/?id=${run.id}`} className="max-w-48 truncate hover:underline">
                      {name}
                    </Link>
                    {isBaseline && (
                      <span className="rounded border px-1 text-xs font-normal text-muted-foreground">baseline</span>
                    )}
                  </span>
                </th>
                <td className="px-3 py-2">{run.detail && <RunStateBadge state={run.detail.state} />}</td>
                <td className="px-3 py-2 whitespace-nowrap tabular-nums text-muted-foreground">
                  {summary ? `${summary.epochs_done}/${summary.epochs_total ?? "?"}` : "—"}
                  {summary?.duration_s != null && <span className="block text-xs">{formatDuration(summary.duration_s)}</span>}
                </td>
                {columns.flatMap((c) =>
                  c.stats.map((s, i) => {
                    const value = s.values[row] ?? null;
                    const best = winnerIndex(s.values, s.direction) === row;
                    const delta = baseIndex >= 0 && !isBaseline ? deltaOf(value, s.values[baseIndex] ?? null, s.direction) : null;
                    return (
                      <td
                        key={`${c.metric}-${s.label}`}
                        data-metric={c.metric}
                        data-stat={s.label}
                        data-best={best || undefined}
                        className={cn(
                          "px-3 py-2 align-top tabular-nums whitespace-nowrap",
                          i === 0 && "border-l",
                          best && "bg-success/12 font-semibold text-foreground",
                        )}
                      >
                        {formatMetric(value)}
                        {best && <span className="sr-only"> (best)</span>}
                        {delta && <DeltaText delta={delta} />}
                      </td>
                    );
                  }),
                )}
                {params.map((p) => (
                  <td
                    key={p.key}
                    className={cn(
                      "max-w-48 truncate border-l px-3 py-2 align-top",
                      p.differs ? "font-medium" : "text-muted-foreground",
                    )}
                    title={String(summary?.params[p.key] ?? "")}
                  >
                    {paramText(summary?.params[p.key])}
                  </td>
                ))}
                <td className="px-2 py-1.5 text-right">
                  <Tooltip content={isBaseline ? "Unpin the baseline" : "Pin as the baseline: other rows show deltas"}>
                    <Button
                      variant={isBaseline ? "secondary" : "ghost"}
                      size="icon-sm"
                      aria-label={isBaseline ? `Unpin ${name} as the baseline` : `Pin ${name} as the baseline`}
                      aria-pressed={isBaseline}
                      onClick={() => onPin(isBaseline ? null : run.id)}
                    >
                      {isBaseline ? <PinOff /> : <Pin />}
                    </Button>
                  </Tooltip>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
  );
}
