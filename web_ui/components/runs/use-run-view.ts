"use client";

import { useMemo } from "react";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { idParam } from "@/lib/queries";
import { RUN_STATES, type RunState } from "@/lib/runs";

/** The table's view as query-string state (`state`, `group`, `tag`, `q`, `filter`, `sort`,
 *  `order`, `cols`): a view is shared by copying its URL. */
export function useRunView() {
  const [state, setState] = useUrlState("state");
  const [group, setGroup] = useUrlState("group");
  const [tag, setTag] = useUrlState("tag");
  const [q, setQ] = useUrlState("q");
  const [filter, setFilter] = useUrlState("filter");
  const [sort, setSort] = useUrlState("sort");
  const [order, setOrder] = useUrlState("order");
  const [cols, setCols] = useUrlState("cols");
  const [row, setRow] = useUrlState("row");
  return useMemo(
    () => ({
      state: RUN_STATES.includes(state as RunState) ? (state as RunState) : null,
      setState: (value: RunState | null) => setState(value),
      groupId: idParam(group),
      setGroupId: (value: number | null) => setGroup(value == null ? null : String(value)),
      tag: tag || null,
      setTag,
      q: q || null,
      setQ,
      filter: filter || null,
      setFilter,
      sort: sort || "created_at",
      order: (order === "asc" ? "asc" : "desc") as "asc" | "desc",
      setSort: (key: string, direction: "asc" | "desc") => {
        setSort(key === "created_at" ? null : key);
        setOrder(direction === "desc" ? null : direction);
      },
      /** the first row on screen (windowed paging's "page"): a shared link opens there */
      row: idParam(row),
      setRow: (index: number) => setRow(index > 0 ? String(index) : null),
      cols: cols ? cols.split(",").filter(Boolean) : null,
      setCols: (ids: string[] | null) => setCols(ids ? ids.join(",") : null),
      /** any filter at all (the empty state differs for a new project) */
      filtered: Boolean(state || group || tag || q || filter),
      clearFilters: () => {
        setState(null);
        setGroup(null);
        setTag(null);
        setQ(null);
        setFilter(null);
      },
    }),
    [state, group, tag, q, filter, sort, order, cols, row, setState, setGroup, setTag, setQ, setFilter, setSort, setOrder, setCols, setRow],
  );
}

export type RunView = ReturnType<typeof useRunView>;
