"use client";

import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { metricNamesQuery, runQuery } from "@/components/run/queries";
import { overviewQuery } from "@/components/run/use-run-series";
import { isFinished, runColor } from "@/lib/runs";
import { defaultMetrics, guessDirection, isPerEpochMetric, type Direction } from "./metric-math";
import type { CompareView, XAxis } from "./use-compare-view";

export type RunDetail = Schemas["RunDetail"];
export type Comparison = Schemas["RunComparison"];
type By = Comparison["by"];

/** A picked run as the page shows it: its colour is fixed by its place in the URL. */
export interface PickedRun {
  id: number;
  color: string;
  detail: RunDetail | undefined;
  /** the API's message when the run cannot be read (deleted, no such id) */
  error: Error | null;
}

/** A run's own line: its points on its own x values (steps, or seconds since its first point). */
export interface RunLine {
  runId: number;
  x: number[];
  y: (number | null)[];
}

/** One chart: a metric's runs, either aligned on one axis (`series`, rows `x`: per-epoch
 *  charts and differences to a baseline) or each on its own points (`lines`: per-step and
 *  time charts, each run's series downsampled by min/max on the server, so a spike of any run
 *  survives however long the runs are). */
export interface MetricChart {
  metric: string;
  direction: Direction;
  /** the axis used: per-step metrics have no epoch, so they stay on steps under x=epoch */
  by: By;
  x: number[];
  series: { runId: number; values: (number | null)[] }[];
  lines: RunLine[] | null;
  /** Each run's own line whether drawn (`lines`) or not, for a metric not evaluated per epoch
   *  (null for the others): the table's best and last read it, since the server's downsampling
   *  keeps a line's extremes and last point, where aligned rows are thinned evenly and can miss
   *  them. */
  own: RunLine[] | null;
  /** rows thinned (aligned charts) */
  downsampled: boolean;
  /** a run's line holds fewer points than the run logged (min/max per bucket) */
  bucketed: boolean;
  pending: boolean;
  error: Error | null;
}

/** Points per chart line: enough for a crisp line at any chart width. */
const MAX_ROWS = 1000;
/** While a compared run is unfinished its curves and table are refreshed this often (ms). */
const LIVE_REFRESH_MS = 10_000;

function compareQuery(ids: number[], metrics: string[], by: By, live: boolean) {
  return {
    refetchInterval: live ? LIVE_REFRESH_MS : (false as const),
    queryKey: ["compare", ids, metrics, by] as const,
    queryFn: () =>
      unwrap(
        api.GET("/runs/compare", {
          params: { query: { ids, metrics: metrics.length ? metrics : undefined, by, max_rows: MAX_ROWS } },
        }),
      ),
    placeholderData: keepPreviousData,
  };
}

export function axisFor(metric: string, x: XAxis): By {
  if (x === "epoch") return isPerEpochMetric(metric) ? "epoch" : "step";
  return x;
}

/** Everything the compare page reads: the picked runs, the metrics they logged, a per-epoch
 *  comparison for the table and the config diff, and one aligned comparison per charted metric
 *  (one request per metric, so each chart's rows are its own: a step-loss chart's thousands of
 *  steps never crowd out the few steps a validation metric was evaluated at). */
export function useComparison(view: CompareView) {
  const details = useQueries({
    queries: view.runs.map((id) => ({
      ...runQuery(id),
      retry: false,
      refetchInterval: (query: { state: { data?: RunDetail } }) =>
        query.state.data && !isFinished(query.state.data.state) ? LIVE_REFRESH_MS : false,
    })),
  });
  const runs: PickedRun[] = view.runs.map((id, i) => ({
    id,
    color: runColor(i),
    detail: details[i]?.data,
    error: details[i]?.error ?? null,
  }));
  const runsPending = details.some((d) => d.isPending);
  // Compare only the runs that could be read: one deleted run must not blank the page.
  // (Plain values, not memos: query keys are compared by value, and these are tiny.)
  const readable = runs.filter((r) => r.detail).map((r) => r.id);
  const live = runs.some((r) => r.detail && !isFinished(r.detail.state));

  const names = useQueries({
    queries: readable.map((id) => ({
      ...metricNamesQuery(id),
      refetchInterval: live ? LIVE_REFRESH_MS : (false as const),
    })),
  });
  const logged =
    names.length > 0 && names.every((n) => n.data)
      ? new Set(names.flatMap((n) => n.data?.names ?? []))
      : null;
  const monitored = [...new Set(runs.flatMap((r) => (r.detail ? [r.detail.summary.monitor.name] : [])))];
  const metrics = view.metrics ?? defaultMetrics(monitored, logged);

  const enough = readable.length >= 2;
  // The table and config diff: per-epoch values are exact (a run has few epochs, no thinning).
  const tableMetrics = [...new Set([...monitored, ...metrics])].filter(isPerEpochMetric);
  const table = useQuery({ ...compareQuery(readable, tableMetrics, "epoch", live), enabled: enough });

  // Per-step and time charts draw each run's own series; differences need aligned rows.
  const ownLines = (metric: string) => !view.delta && axisFor(metric, view.x) !== "epoch";
  // The table reads a metric not evaluated per epoch from each run's own series, in any view.
  const wantsLines = (metric: string) => ownLines(metric) || !isPerEpochMetric(metric);
  const perMetric = useQueries({
    queries: metrics.map((metric) => ({
      ...compareQuery(readable, [metric], axisFor(metric, view.x), live),
      enabled: enough && !ownLines(metric),
    })),
  });
  // One request per (metric, run that logged it): a run without the metric has no line.
  const lineRequests = metrics.flatMap((metric) =>
    wantsLines(metric)
      ? readable.flatMap((id, i) =>
          names[i]?.data?.names.includes(metric) ? [{ metric, runId: id }] : [],
        )
      : [],
  );
  const lineQueries = useQueries({
    queries: lineRequests.map(({ metric, runId }) => ({
      ...overviewQuery(runId, [metric]),
      enabled: enough,
      staleTime: live ? LIVE_REFRESH_MS : Infinity,
      refetchInterval: live ? LIVE_REFRESH_MS : (false as const),
    })),
  });
  const charts: MetricChart[] = metrics.map((metric, i) => {
    const by = axisFor(metric, view.x);
    const mine = lineRequests.flatMap((request, j) =>
      request.metric === metric ? [{ runId: request.runId, query: lineQueries[j]! }] : [],
    );
    const shown = mine.flatMap(({ runId, query }) => {
      const series = query.data?.[metric];
      return series ? [{ runId, series }] : [];
    });
    const own: RunLine[] | null = wantsLines(metric)
      ? shown.map(({ runId, series }) => ({
          runId,
          x: by === "time" ? series.times.map((t) => t - (series.times[0] ?? 0)) : series.steps,
          y: series.values,
        }))
      : null;
    if (ownLines(metric)) {
      return {
        metric,
        direction:
          table.data?.metrics.find((m) => m.name === metric)?.direction ?? guessDirection(metric),
        by,
        x: [],
        series: [],
        lines: own,
        own,
        downsampled: false,
        bucketed: shown.some(({ series }) => series.total > series.steps.length),
        pending: names.some((n) => n.isPending) || mine.some(({ query }) => query.isPending),
        error: mine.find(({ query }) => query.error)?.query.error ?? null,
      };
    }
    const q = perMetric[i]!;
    const data = q.data;
    const direction = data?.metrics[0]?.direction ?? guessDirection(metric);
    return {
      metric,
      direction,
      by: data?.by ?? by,
      x: data?.x ?? [],
      series: (data?.columns ?? []).map((c) => ({ runId: c.run_id, values: c.values })),
      lines: null,
      own,
      downsampled: data?.downsampled ?? false,
      bucketed: false,
      pending: q.isPending,
      error: q.error,
    };
  });

  return {
    runs,
    runsPending,
    readable,
    logged,
    monitored,
    metrics,
    table,
    charts,
  };
}
