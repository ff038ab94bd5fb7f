"use client";

import { useRouter } from "next/navigation";
import { LineChart, type ChartSeries, type ChartSettings, type XMode } from "@/components/charts";
import { Card } from "@/components/ui/card";
import { RUN_PALETTE } from "@/lib/runs";
import { Skeleton } from "@/components/ui/skeleton";
import { ErrorState } from "@/components/ui/states";
import type { CompareView, XAxis } from "./use-compare-view";
import type { MetricChart, PickedRun } from "./use-comparison";

/** The page's x axis in the chart's terms: compare's "time" is seconds since each run's first
 *  metric point, which the chart calls relative time. */
export function chartXMode(by: XAxis): XMode {
  return by === "time" ? "relative" : by;
}

export function chartSettings(view: CompareView, by: XAxis): ChartSettings {
  // Differences go below zero, which a log scale cannot show.
  const logY = view.logY && !view.delta;
  return { xMode: chartXMode(by), logY, smoothing: view.smoothing, clipOutliers: view.clipOutliers };
}

/** A run's line: only the rows where it has a value (the rows are the union of every run's
 *  steps, so a run evaluated at other steps than its neighbours has nulls in between). With a
 *  baseline to subtract, only the rows where both have a value, as the difference. */
function lineOf(chart: MetricChart, run: PickedRun, minus: (number | null)[] | null): ChartSeries | null {
  const label = run.detail?.name ?? `run ${run.id}`;
  if (chart.lines) {
    const own = chart.lines.find((l) => l.runId === run.id);
    return own ? { id: String(run.id), label, color: run.color, points: { x: own.x, y: own.y } } : null;
  }
  const column = chart.series.find((s) => s.runId === run.id);
  if (!column) return null;
  const x: number[] = [];
  const y: number[] = [];
  column.values.forEach((v, i) => {
    const base = minus ? minus[i] : 0;
    if (v != null && base != null) {
      x.push(chart.x[i]!);
      y.push(v - base);
    }
  });
  return { id: String(run.id), label, color: run.color, points: { x, y } };
}

function linesOf(chart: MetricChart, runs: PickedRun[], view: CompareView): ChartSeries[] {
  const baseline = view.delta ? chart.series.find((s) => s.runId === view.baseline) : undefined;
  return runs.flatMap((run, i) => {
    const line = lineOf(chart, run, baseline?.values ?? null);
    if (!line) return [];
    // Past the palette the colours repeat: those runs' lines are dashed, as is the baseline.
    const dashed = (baseline != null && run.id === view.baseline) || i >= RUN_PALETTE.length;
    return [{ ...line, dashed }];
  });
}

function ChartCard({
  chart,
  runs,
  view,
  hovered,
  onHover,
}: {
  chart: MetricChart;
  runs: PickedRun[];
  view: CompareView;
  hovered: number | null;
  onHover: (runId: number | null) => void;
}) {
  const router = useRouter();
  const series = linesOf(chart, runs, view);
  const fallback = view.x === "epoch" && chart.by === "step";
  const baselineName = runs.find((r) => r.id === view.baseline)?.detail?.name;
  const title = view.delta && baselineName ? `${chart.metric} − ${baselineName}` : chart.metric;
  const notes = [
    chart.direction === "min" ? "lower is better" : chart.direction === "max" ? "higher is better" : "",
    fallback ? "logged per step: shown by step" : "",
    chart.downsampled ? "thinned to 1,000 rows" : "",
    chart.bucketed ? "long runs: min and max per bucket" : "",
    view.delta ? "difference to the baseline (where both have a point)" : "",
  ].filter(Boolean);
  return (
    <Card className="flex min-w-0 flex-col gap-2 p-4" data-metric={chart.metric}>
      <div className="flex flex-wrap items-baseline justify-between gap-x-3">
        <h3 className="font-mono text-sm font-semibold">{title}</h3>
        <p className="text-xs text-muted-foreground">{notes.join(" · ")}</p>
      </div>
      {chart.error ? (
        <ErrorState error={chart.error} />
      ) : chart.pending ? (
        <Skeleton className="h-[220px] w-full" />
      ) : (
        <LineChart
          title={title}
          series={series}
          settings={chartSettings(view, chart.by)}
          syncKey={`compare-${chart.by}`}
          highlightId={hovered != null ? String(hovered) : null}
          onSeriesHover={(id) => onHover(id == null ? null : Number(id))}
          onSeriesClick={(id) => router.push(`/run/?id=${id}`)}
        />
      )}
    </Card>
  );
}

/** One chart per chosen metric, one line per run in the run's colour; hovering a line
 *  highlights its run everywhere on the page, clicking it opens the run. */
export function CompareCharts(props: {
  charts: MetricChart[];
  runs: PickedRun[];
  view: CompareView;
  hovered: number | null;
  onHover: (runId: number | null) => void;
}) {
  const { charts, ...rest } = props;
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      {charts.map((chart) => (
        <ChartCard key={chart.metric} chart={chart} {...rest} />
      ))}
    </div>
  );
}
