// The run page's queries (the run, its metric names, results, files...).
import { type QueryClient, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api/client";
import { keys } from "@/lib/queries";
import { isFinished, type RunState } from "@/lib/runs";

const SERIES = "series";

export const runKeys = {
  metricNames: (id: number) => ["run", id, "metrics"] as const,
  series: (id: number, names: string[], window?: [number, number]) =>
    ["run", id, SERIES, names, window ?? null] as const,
  results: (id: number) => ["run", id, "results"] as const,
  checkpoints: (id: number) => ["run", id, "checkpoints"] as const,
  file: (id: number, path: string) => ["run", id, "file", path] as const,
};

/** Refetch what is shown of the run (its detail, metric names, checkpoints, results...), all
 *  under its key, but not its metric series: live points keep those current, and refetching
 *  every chart's thousands of points on each checkpoint would only drop them and load them again. */
export function refreshRun(queryClient: QueryClient, id: number) {
  queryClient.invalidateQueries({
    queryKey: keys.run(id),
    predicate: (query) => query.queryKey[2] !== SERIES,
  });
}

/** A run's detail (the run page's and the compare page's: one cache entry). */
export function runQuery(id: number) {
  return {
    queryKey: keys.run(id),
    queryFn: () => unwrap(api.GET("/runs/{run_id}", { params: { path: { run_id: id } } })),
  };
}

export function useRun(id: number | null) {
  return useQuery({ ...runQuery(id ?? 0), enabled: id != null });
}

/** The run's metric names (the run page's and the compare page's: one cache entry). */
export function metricNamesQuery(id: number) {
  return {
    queryKey: runKeys.metricNames(id),
    queryFn: () => unwrap(api.GET("/runs/{run_id}/metrics", { params: { path: { run_id: id } } })),
  };
}

/** The run's metric names; polled while it runs, since a new metric starts a new chart. */
export function useMetricNames(id: number, state: RunState | undefined) {
  return useQuery({
    ...metricNamesQuery(id),
    refetchInterval: state && !isFinished(state) ? 10_000 : false,
  });
}

export function useRunResults(id: number, state: RunState | undefined) {
  return useQuery({
    queryKey: runKeys.results(id),
    queryFn: () => unwrap(api.GET("/runs/{run_id}/results", { params: { path: { run_id: id } } })),
    enabled: state != null,
    retry: false,
  });
}

/** A JSON file of the run folder (env.json, dataset.json), through the file download route. */
export function useRunJsonFile(id: number, path: string) {
  return useQuery({
    queryKey: runKeys.file(id, path),
    queryFn: async () => {
      const text = await unwrap(
        api.GET("/runs/{run_id}/files", {
          params: { path: { run_id: id }, query: { path } },
          parseAs: "text",
        }),
      );
      return JSON.parse(String(text)) as Record<string, unknown>;
    },
    retry: false,
  });
}
