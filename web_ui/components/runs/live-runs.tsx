"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { useTopic } from "@/lib/live/hooks";
import type { LiveEvent } from "@/lib/live/socket";
import type { Run } from "@/lib/runs";
import { projectRunsKey, runTableKey, type RunPage } from "./run-query";

/** At most this many running runs' own topics are followed at once (the visible ones). */
const MAX_FOLLOWED = 20;
const REFRESH_MS = 1000;

/** Refresh the project's run queries (pages on screen, counts, keys) at most once a second
 *  however many changes arrive: a burst of 50 state changes is one refetch, not 50. */
function useThrottledRefresh(projectId: number, delay = REFRESH_MS) {
  const queryClient = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void queryClient.invalidateQueries({ queryKey: projectRunsKey(projectId) });
    }, delay);
  }, [queryClient, projectId, delay]);
}

/** One running run's own events: its progress reports patch its row at once; a new value of
 *  its monitored metric refreshes the table (best and values come from the server). */
function RunFeed({ projectId, run, onMetric }: { projectId: number; run: Run; onMetric: () => void }) {
  const queryClient = useQueryClient();
  const monitored = run.summary.monitor.name;
  useTopic(`run:${run.id}`, (event: LiveEvent) => {
    const { kind, name, payload } = event.data as { kind?: string; name?: string; payload?: Record<string, unknown> };
    if (kind === "progress" && payload) {
      const { epoch, epochs, step, total_steps, eta_s } = payload;
      queryClient.setQueriesData<RunPage>(
        { queryKey: runTableKey(projectId) },
        (page) =>
          page && {
            ...page,
            items: page.items.map((r) =>
              r.id === run.id ? { ...r, progress: { ...r.progress, epoch, epochs, step, total_steps, eta_s } } : r,
            ),
          },
      );
    } else if (kind === "metrics" && name === monitored) {
      onMetric();
    }
  });
  return null;
}

/** Keeps the table live: run state changes (topic "runs") refetch what is on screen; the
 *  visible running runs' progress comes from their own topics. */
export function LiveRuns({ projectId, visible }: { projectId: number; visible: Run[] }) {
  const refresh = useThrottledRefresh(projectId);
  const slowRefresh = useThrottledRefresh(projectId, 5000);
  useTopic("runs", refresh);
  const running = visible.filter((r) => r.state === "running").slice(0, MAX_FOLLOWED);
  return (
    <>
      {running.map((run) => (
        <RunFeed key={run.id} projectId={projectId} run={run} onMetric={slowRefresh} />
      ))}
    </>
  );
}
