"use client";

import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { metricNamesQuery, runQuery } from "@/components/run/queries";
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

/** One chart: a metric's runs aligned on one axis (`values[i]` belongs to `runIds[i]`). */
export interface MetricChart {
  metric: string;
  direction: Direction;
  /** the axis used: per-step metrics have no epoch, so they stay on steps under x=epoch */
  by: By;
  x: number[];
  series: { runId: number; values: (number | null)[] }[];
  downsampled: boolean;
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

  const perMetric = useQueries({
    queries: metrics.map((metric) => ({
      ...compareQuery(readable, [metric], axisFor(metric, view.x), live),
      enabled: enough,
    })),
  });
  const charts: MetricChart[] = metrics.map((metric, i) => {
    const q = perMetric[i]!;
    const data = q.data;
    const direction = data?.metrics[0]?.direction ?? guessDirection(metric);
    return {
      metric,
      direction,
      by: data?.by ?? axisFor(metric, view.x),
      x: data?.x ?? [],
      series: (data?.columns ?? []).map((c) => ({ runId: c.run_id, values: c.values })),
      downsampled: data?.downsampled ?? false,
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
