"use client";

// A run's metric series for its charts: fetched downsampled (the server keeps min/max per
// bucket), a zoomed window re-fetched at full resolution, and live points from the run's
// WebSocket topic appended once per animation frame.
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useFrameBatch, type SeriesSource } from "@/components/charts";
import { api, unwrap } from "@/lib/api/client";
import { metricPoints, type LivePoint } from "@/lib/live/metrics";
import type { LiveEvent } from "@/lib/live/socket";
import { metricNamesQuery, runKeys } from "./queries";

/** Points per series for the overview: more than a chart is wide, so spikes stay visible. */
export const OVERVIEW_POINTS = 2000;
/** Points for a zoomed window (the API's maximum is 10,000). */
export const WINDOW_POINTS = 5000;
/** The series endpoint takes at most this many names per request. */
const NAMES_PER_REQUEST = 20;

export interface MetricSeries extends SeriesSource {
  times: number[];
  epochs: (number | null)[];
  /** current points on the server (before downsampling) plus the live ones since */
  total: number;
}

type SeriesMap = Record<string, MetricSeries>;

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function fetchSeries(
  runId: number,
  names: string[],
  maxPoints: number,
  window?: [number, number],
): Promise<SeriesMap> {
  const body = await unwrap(
    api.GET("/runs/{run_id}/metrics/series", {
      params: {
        path: { run_id: runId },
        query: {
          names,
          max_points: maxPoints,
          step_min: window?.[0],
          step_max: window?.[1],
        },
      },
    }),
  );
  const out: SeriesMap = {};
  for (const s of body.series) {
    out[s.name] = { steps: s.steps, values: s.values, times: s.times, epochs: s.epochs, total: s.total };
  }
  return out;
}

/** The overview's request for one group of names (a shared cache entry: the page prefetches
 *  it, the charts read it, the compare page reads one metric's). Live points keep it current
 *  on the run page, so it never goes stale by itself. */
export function overviewQuery(runId: number, group: string[]) {
  return {
    queryKey: runKeys.series(runId, group),
    queryFn: () => fetchSeries(runId, group, OVERVIEW_POINTS),
    staleTime: Infinity,
  };
}

/** Start the overview's requests (metric names, then their series) as soon as the page knows
 *  the run's id, rather than once the run's detail has arrived and the overview has rendered:
 *  the first chart of a long run comes a round trip and a render sooner. */
export function usePrefetchOverview(runId: number | null, enabled: boolean) {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (runId == null || !enabled) return;
    // Chained on the promise, not on a render: the series request leaves as soon as the names
    // arrive. Errors are the overview's own queries' to show.
    queryClient
      .fetchQuery(metricNamesQuery(runId))
      .then(({ names }) =>
        Promise.all(
          chunk(names, NAMES_PER_REQUEST).map((group) =>
            queryClient.prefetchQuery(overviewQuery(runId, group)),
          ),
        ),
      )
      .catch(() => undefined);
  }, [runId, enabled, queryClient]);
}

/** A series this hook owns (its arrays are its own, never the query cache's): live points are
 *  appended into it in place, so a batch costs its own points, not a copy of the series. */
function ownedCopy(series: MetricSeries | undefined): MetricSeries {
  return {
    steps: series ? series.steps.slice() : [],
    values: series ? series.values.slice() : [],
    times: series ? series.times.slice() : [],
    epochs: series ? series.epochs.slice() : [],
    total: series?.total ?? 0,
  };
}

/** Append live points to an owned series, in place; returns a new object over the same arrays
 *  (a new identity, so the chart of this metric, and only it, updates). A point at or before the
 *  series' last step comes from a resumed attempt: it replaces the points from its step on (the
 *  newest attempt wins, as on the server); a re-delivered point of the same step replaces
 *  itself. */
function appendPoints(series: MetricSeries, points: LivePoint[]): MetricSeries {
  const { steps, values, times, epochs } = series;
  let total = series.total;
  // Points come in step order (one trainer's log); sort only when they do not.
  let ordered = true;
  for (let i = 1; i < points.length; i++) if (points[i]!.step < points[i - 1]!.step) ordered = false;
  const sorted = ordered ? points : [...points].sort((a, b) => a.step - b.step);
  const first = sorted[0]!.step;
  if (steps.length && first <= steps[steps.length - 1]!) {
    let cut = steps.length;
    while (cut > 0 && steps[cut - 1]! >= first) cut--;
    total -= steps.length - cut;
    steps.length = cut;
    values.length = cut;
    times.length = cut;
    epochs.length = cut;
  }
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!;
    if (i + 1 < sorted.length && sorted[i + 1]!.step === p.step) continue; // the later one wins
    steps.push(p.step);
    values.push(p.value);
    times.push(p.time);
    epochs.push(p.epoch);
    total++;
  }
  return { steps, values, times, epochs, total };
}

/** The overview's points outside the window, the window's own (full-resolution) inside. */
function mergeWindow(base: MetricSeries, window: MetricSeries, range: [number, number]): MetricSeries {
  const pick = (keep: (step: number) => boolean, s: MetricSeries) =>
    s.steps.flatMap((step, i) => (keep(step) ? [i] : []));
  const before = pick((s) => s < range[0], base);
  const after = pick((s) => s > range[1], base);
  const take = <T,>(arr: T[], idx: number[]) => idx.map((i) => arr[i]!);
  return {
    steps: [...take(base.steps, before), ...window.steps, ...take(base.steps, after)],
    values: [...take(base.values, before), ...window.values, ...take(base.values, after)],
    times: [...take(base.times, before), ...window.times, ...take(base.times, after)],
    epochs: [...take(base.epochs, before), ...window.epochs, ...take(base.epochs, after)],
    total: base.total,
  };
}

/** Subscribe to the live events first and fetch after: a point logged in between arrives
 *  twice and is kept once, and none is lost. */
export function useRunSeries(runId: number, names: string[], live: boolean) {
  const groups = useMemo(() => chunk(names, NAMES_PER_REQUEST), [names]);
  const queries = useQueries({
    queries: groups.map((group) => overviewQuery(runId, group)),
  });
  // When the metric names change (a new metric is logged), the groups and so the query keys
  // change: until the new queries answer (or while they fail, the dashboard being away), the
  // series fetched before stay on screen instead of giving way to a spinner or an error.
  const previous = useRef<{ runId: number; series: SeriesMap }>({ runId, series: {} });
  const fetched = useMemo(() => {
    const kept = previous.current.runId === runId ? previous.current.series : {};
    const out: SeriesMap = { ...kept };
    for (const q of queries) if (q.data) Object.assign(out, q.data);
    previous.current = { runId, series: out };
    return out;
    // The query results' data identities are what matter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId, queries.map((q) => q.dataUpdatedAt).join(",")]);

  // Live points per metric since the fetch, applied over the fetched series. The ref holds the
  // owned series (appended in place outside of React's updaters, which may run twice); the
  // state is a new map of them per batch, with new objects only for the metrics that changed.
  const owned = useRef<SeriesMap>({});
  const [liveSeries, setLiveSeries] = useState<SeriesMap>({});
  const pendingBeforeFetch = useRef<LivePoint[]>([]);
  const loaded = queries.length > 0 && queries.every((q) => q.isSuccess);

  const apply = useCallback(
    (points: LivePoint[]) => {
      const byName = new Map<string, LivePoint[]>();
      for (const p of points) {
        const list = byName.get(p.name);
        if (list) list.push(p);
        else byName.set(p.name, [p]);
      }
      const next = { ...owned.current };
      for (const [name, ps] of byName) {
        next[name] = appendPoints(next[name] ?? ownedCopy(fetched[name]), ps);
      }
      owned.current = next;
      setLiveSeries(next);
    },
    [fetched],
  );
  const push = useFrameBatch<LivePoint>((points) => {
    if (!loaded) pendingBeforeFetch.current.push(...points);
    else apply(points);
  });
  useEffect(() => {
    // A refetch (e.g. metric names changed) replaces the base: live points start over.
    owned.current = {};
    setLiveSeries({});
  }, [fetched]);
  useEffect(() => {
    if (loaded && pendingBeforeFetch.current.length) {
      const points = pendingBeforeFetch.current;
      pendingBeforeFetch.current = [];
      apply(points);
    }
  }, [loaded, apply]);

  const onEvent = useCallback(
    (event: LiveEvent) => {
      if (!live) return;
      for (const point of metricPoints(event)) push(point);
    },
    [live, push],
  );

  const series = useMemo(() => ({ ...fetched, ...liveSeries }), [fetched, liveSeries]);
  const error = queries.find((q) => q.error)?.error ?? null;
  // The first load is pending until every group has answered (or failed): drawn as each group
  // arrived, a metric not yet fetched showed as an empty chart and then turned into a value
  // tile, the page shifting under the reader. Later name changes keep what is on screen. (No
  // names, no queries: the caller shows its empty state without asking.)
  const settled = queries.length > 0 && queries.every((q) => !q.isPending);
  const firstLoad = useRef<{ runId: number; done: boolean }>({ runId, done: false });
  if (firstLoad.current.runId !== runId) firstLoad.current = { runId, done: false };
  if (settled) firstLoad.current.done = true;
  return {
    series,
    isPending: !firstLoad.current.done,
    error,
    retry: () => queries.forEach((q) => q.refetch()),
    onEvent,
  };
}

/** One metric's series with a zoomed step window re-fetched at full resolution. */
export function useZoomedSeries(
  runId: number,
  name: string,
  base: MetricSeries | undefined,
  window: [number, number] | null,
): MetricSeries | undefined {
  const needed = window != null && base != null && base.total > base.steps.length;
  const zoomed = useQuery({
    queryKey: runKeys.series(runId, [name], window ?? undefined),
    queryFn: () => fetchSeries(runId, [name], WINDOW_POINTS, window!),
    enabled: needed,
    staleTime: Infinity,
    placeholderData: (previous) => previous,
  });
  return useMemo(() => {
    if (!base || !needed || zoomed.isPlaceholderData || !zoomed.data?.[name]) return base;
    return mergeWindow(base, zoomed.data[name], window);
  }, [base, needed, zoomed.data, zoomed.isPlaceholderData, name, window]);
}
