"use client";

import { keepPreviousData, useQueries, useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import type { Run } from "@/lib/runs";
import { fetchRunPage, PAGE_SIZE, runPageKey, type RunPage, type RunQuery } from "./run-query";

export interface LoadedRow {
  index: number;
  run: Run;
  fetchedAt: number;
}

interface LoadedPage {
  data: RunPage;
  at: number;
}

/** The window's extra pages as they stand; a module-level `combine` keeps its result the same
 *  object until a page changes, so what is derived from it is not redone on every render. */
function loadedPages(results: UseQueryResult<RunPage>[]): (LoadedPage | null)[] {
  return results.map((r) => (r.data ? { data: r.data, at: r.dataUpdatedAt } : null));
}

/** Windowed paging: the table says which rows are on screen, and only the pages holding them
 *  are fetched (page 0 always: it carries the total). Scrolling anywhere in 2,000 runs loads a
 *  page or two; pages already seen come from the cache. */
export function useRunsWindow(projectId: number, query: RunQuery, enabled: boolean) {
  const [visiblePages, setVisiblePages] = useState<[number, number]>([0, 0]);
  const first = useQuery({
    queryKey: runPageKey(projectId, query, 0),
    queryFn: ({ signal }) => fetchRunPage(projectId, query, 0, PAGE_SIZE, signal),
    enabled,
    placeholderData: keepPreviousData,
    staleTime: 10_000,
    retry: (count, error) => (error as { status?: number }).status !== 422 && count < 2,
  });
  const extraPages = useMemo(() => {
    const pages = [];
    for (let p = Math.max(1, visiblePages[0]); p <= visiblePages[1]; p += 1) pages.push(p);
    return pages;
  }, [visiblePages]);
  const others = useQueries({
    queries: extraPages.map((page) => ({
      queryKey: runPageKey(projectId, query, page),
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        fetchRunPage(projectId, query, page * PAGE_SIZE, PAGE_SIZE, signal),
      enabled: enabled && !first.isPlaceholderData && first.data != null,
      staleTime: 10_000,
    })),
    combine: loadedPages,
  });

  const { rowAt, loaded } = useMemo(() => {
    const pages = new Map<number, LoadedPage>();
    if (first.data) pages.set(0, { data: first.data, at: first.dataUpdatedAt });
    others.forEach((page, i) => {
      if (page) pages.set(extraPages[i]!, page);
    });
    const rowAt = (index: number): LoadedRow | null => {
      const page = Math.floor(index / PAGE_SIZE);
      const loaded = pages.get(page);
      const run = loaded?.data.items[index - page * PAGE_SIZE];
      return run && loaded ? { index, run, fetchedAt: loaded.at } : null;
    };
    /** the rows of every page in the window, in order */
    const loaded: LoadedRow[] = [];
    for (const [page, { data, at }] of [...pages.entries()].sort((a, b) => a[0] - b[0])) {
      data.items.forEach((run, i) => loaded.push({ index: page * PAGE_SIZE + i, run, fetchedAt: at }));
    }
    return { rowAt, loaded };
  }, [first.data, first.dataUpdatedAt, others, extraPages]);

  const setVisibleRows = useCallback((start: number, end: number) => {
    const from = Math.floor(start / PAGE_SIZE);
    const to = Math.floor(Math.max(start, end) / PAGE_SIZE);
    setVisiblePages((prev) => (prev[0] === from && prev[1] === to ? prev : [from, to]));
  }, []);

  return {
    total: first.data?.total ?? 0,
    first,
    rowAt,
    loaded,
    setVisibleRows,
    /** true while the rows shown are the previous view's (a filter just changed) */
    stale: first.isPlaceholderData,
  };
}
