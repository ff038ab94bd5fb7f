"use client";

import { useQuery } from "@tanstack/react-query";
import { Download, FileCode2, Tag, X } from "lucide-react";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { toast } from "sonner";
import { GroupFilter } from "@/components/groups/group-filter";
import { Button } from "@/components/ui/button";
import { EmptyState, ErrorState, LoadingRows, Spinner } from "@/components/ui/states";
import { ApiError, errorMessage, type Schemas } from "@/lib/api/client";
import { useSearchShortcut } from "@/lib/hooks/use-search-shortcut";
import { projectAccess } from "@/lib/hooks/use-project-role";
import { useGroups, useMe } from "@/lib/queries";
import { RUN_STATES, type Run, type RunState } from "@/lib/runs";
import { columnViewKey, useColumnPrefs } from "@/lib/store/columns";
import { BulkActions } from "./bulk-actions";
import { ColumnChooser } from "./column-chooser";
import { downloadText, runsCsv } from "./csv";
import { FilterBox } from "./filter-box";
import { cleanValidationMessage, toApiFilters, viewFilters } from "./filter-expr";
import { LiveRuns } from "./live-runs";
import { columnFor, DEFAULT_COLUMNS, type CellContext, type RunColumn } from "./run-columns";
import {
  countsKey,
  fetchAllRuns,
  fetchCounts,
  fetchRunKeys,
  runKeysKey,
  type RunQuery,
} from "./run-query";
import { RunsTable } from "./runs-table";
import { SearchBox } from "./search-box";
import { StateChips } from "./state-chips";
import { useRunView } from "./use-run-view";
import { useRunsWindow, type LoadedRow } from "./use-runs-window";

type Project = Schemas["ProjectOut"];

/** The message of a 422 on one query parameter (`filter`, `sort`), or null. */
function paramError(error: unknown, param: string): string | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  const field = error.fields.find((f) => f.field.startsWith(`query.${param}`));
  return field ? cleanValidationMessage(field.message) : null;
}

/** New sort keys start with the best values first: lower losses, higher accuracies. */
function firstOrder(key: string, keys: Schemas["RunKeysOut"] | undefined): "asc" | "desc" {
  if (key === "name") return "asc";
  const metric = /^best:(.+)$/.exec(key)?.[1];
  if (metric && keys?.metrics.find((m) => m.name === metric)?.direction === "min") return "asc";
  return "desc";
}

export function RunsView({ project }: { project: Project }) {
  const projectId = project.id;
  const { can } = projectAccess(project);
  const view = useRunView();
  const me = useMe();
  const searchRef = useSearchShortcut();

  // ---- what the project offers: metric/config keys, groups ----
  const keys = useQuery({ queryKey: runKeysKey(projectId), queryFn: () => fetchRunKeys(projectId), staleTime: 30_000 });
  const groups = useGroups(projectId);
  const groupList = useMemo(() => groups.data?.items ?? [], [groups.data]);
  const groupName = useCallback(
    (id: number | null) => groupList.find((g) => g.id === id)?.name ?? (id == null ? "" : `group ${id}`),
    [groupList],
  );

  // ---- columns: the URL's, else this user's saved choice, else the defaults ----
  const prefKey = columnViewKey(me.data?.id, projectId);
  const saved = useColumnPrefs((s) => s.views[prefKey]);
  const setView = useColumnPrefs((s) => s.setView);
  const colIds = view.cols ?? saved?.cols ?? DEFAULT_COLUMNS;
  const onlyDiffering = saved?.onlyDiffering ?? false;
  const chosen = useMemo(
    () => colIds.map((id) => columnFor(id, keys.data)).filter((c): c is RunColumn => c !== null),
    [colIds, keys.data],
  );
  const setCols = (ids: string[]) => {
    setView(prefKey, { cols: ids }, { cols: DEFAULT_COLUMNS, onlyDiffering });
    view.setCols(ids);
  };

  // ---- the query ----
  const query: RunQuery = useMemo(
    () => ({
      state: view.state,
      groupId: view.groupId,
      tag: view.tag,
      q: view.q,
      filters: toApiFilters(view.filter, keys.data),
      sort: view.sort,
      order: view.order,
      columns: chosen.flatMap((c) => (c.valueKey ? [c.valueKey] : [])),
    }),
    [view.state, view.groupId, view.tag, view.q, view.filter, view.sort, view.order, keys.data, chosen],
  );
  const viewKey = JSON.stringify({ ...query, columns: [] });
  // Metric and config columns need the keys first (a column the runs lack would be a 422).
  const ready = !keys.isPending;
  const runs = useRunsWindow(projectId, query, ready);
  const counts = useQuery({
    queryKey: countsKey(projectId, query),
    queryFn: () => fetchCounts(projectId, query),
    enabled: ready,
    placeholderData: (previous) => previous,
  });

  const filterError = paramError(runs.first.error, "filter");
  const sortError = paramError(runs.first.error, "sort");

  // ---- columns that differ among the runs shown ----
  const ctxBase = useMemo(() => ({ groupName, onTag: (tag: string) => view.setTag(tag) }), [groupName, view]);
  const columns = useMemo(() => {
    if (!onlyDiffering || runs.loaded.length < 2) return chosen;
    const ctx: CellContext = { ...ctxBase, fetchedAt: 0 };
    return chosen.filter((column) => {
      if (!column.variable) return true;
      const first = column.text(runs.loaded[0]!.run, ctx);
      return runs.loaded.some((row) => column.text(row.run, ctx) !== first);
    });
  }, [chosen, onlyDiffering, runs.loaded, ctxBase]);

  // ---- selection (kept across views; shift-click selects a range of this view) ----
  const [selected, setSelected] = useState<Map<number, Run>>(new Map());
  const anchor = useRef<number | null>(null);
  useEffect(() => {
    anchor.current = null;
  }, [viewKey]);
  // Selected runs follow their rows' fresh data (a bulk action counts on current states).
  useEffect(() => {
    setSelected((current) => {
      let changed = false;
      const next = new Map(current);
      for (const { run } of runs.loaded) {
        if (next.has(run.id) && next.get(run.id) !== run) {
          next.set(run.id, run);
          changed = true;
        }
      }
      return changed ? next : current;
    });
  }, [runs.loaded]);
  const onSelect = (row: LoadedRow, range: boolean) => {
    setSelected((current) => {
      const next = new Map(current);
      if (range && anchor.current !== null && anchor.current !== row.index) {
        const [from, to] = [Math.min(anchor.current, row.index), Math.max(anchor.current, row.index)];
        for (let i = from; i <= to; i += 1) {
          const r = runs.rowAt(i);
          if (r) next.set(r.run.id, r.run);
        }
      } else if (next.has(row.run.id)) {
        next.delete(row.run.id);
      } else {
        next.set(row.run.id, row.run);
      }
      return next;
    });
    anchor.current = row.index;
  };
  const [selectingAll, setSelectingAll] = useState(false);
  const onSelectAll = async () => {
    if (selected.size > 0) {
      setSelected(new Map());
      return;
    }
    setSelectingAll(true);
    try {
      const all = await fetchAllRuns(projectId, query);
      setSelected(new Map(all.map((r) => [r.id, r])));
    } catch (e) {
      toast.error(`Could not select all runs: ${errorMessage(e)}`);
    } finally {
      setSelectingAll(false);
    }
  };
  const allSelected =
    runs.total > 0 && selected.size >= runs.total && runs.loaded.every((r) => selected.has(r.run.id))
      ? true
      : selected.size > 0
        ? "indeterminate"
        : false;

  // ---- CSV of every run of the view ----
  const [exporting, setExporting] = useState(false);
  const exportCsv = async () => {
    setExporting(true);
    try {
      const all = await fetchAllRuns(projectId, query);
      const csv = runsCsv(all, columns, { ...ctxBase, fetchedAt: Date.now() });
      const slug = project.name.replace(/[^A-Za-z0-9._-]+/g, "-");
      downloadText(`${slug}-runs.csv`, csv);
      toast.success(`Exported ${all.length} run${all.length === 1 ? "" : "s"}`);
    } catch (e) {
      toast.error(`Export failed: ${errorMessage(e)}`);
    } finally {
      setExporting(false);
    }
  };

  // The filter box also takes the table's own filters: state=, tag=, group=, q=.
  const applyFilter = (text: string | null) => {
    const found = viewFilters(text ?? "");
    if (found.state && RUN_STATES.includes(found.state as RunState)) view.setState(found.state as RunState);
    else if (found.state) found.rest.push(`state=${found.state}`);
    if (found.tag) view.setTag(found.tag);
    if (found.q) view.setQ(found.q);
    if (found.group) {
      const group = groupList.find((g) => g.name === found.group || String(g.id) === found.group);
      if (group) view.setGroupId(group.id);
      else toast.error(`No group named ${found.group} in this project`);
    }
    view.setFilter(found.rest.length ? found.rest.join(", ") : null);
  };

  const onSort = (key: string) =>
    view.setSort(key, view.sort === key ? (view.order === "asc" ? "desc" : "asc") : firstOrder(key, keys.data));

  const emptyProject = counts.data?.total === 0 && !view.filtered;
  const otherError = runs.first.error && !filterError && !sortError ? runs.first.error : null;

  return (
    <div className="flex flex-col gap-3">
      <LiveRuns projectId={projectId} visible={runs.loaded.map((r) => r.run)} />
      {emptyProject ? (
        <EmptyState
          icon={<FileCode2 className="size-8" />}
          title="No runs in this project yet"
          description="Runs are queued from a config: pick a model, a dataset and hyper-parameters, save it, then queue it. Its runs show up here live."
          action={
            <Button asChild>
              <Link href={`/project/configs/?id=${projectId}`}>Go to configs</Link>
            </Button>
          }
        />
      ) : (
        <>
          <StateChips counts={counts.data} loading={counts.isPending && counts.fetchStatus !== "idle"} state={view.state} onState={view.setState} />
          <div className="flex flex-wrap items-start gap-2">
            <SearchBox value={view.q} onChange={view.setQ} inputRef={searchRef} />
            <FilterBox value={view.filter} onApply={applyFilter} error={filterError} />
            <GroupFilter projectId={projectId} groups={groupList} groupId={view.groupId} onGroup={view.setGroupId} editable={can.edit} />
            <ColumnChooser
              keys={keys.data}
              cols={colIds}
              onCols={setCols}
              onlyDiffering={onlyDiffering}
              onOnlyDiffering={(value) => setView(prefKey, { onlyDiffering: value }, { cols: colIds, onlyDiffering })}
            />
            <Button variant="outline" onClick={exportCsv} disabled={exporting || runs.total === 0}>
              {exporting ? <Spinner label="Exporting" /> : <Download />} Export CSV
            </Button>
          </div>
          {(view.tag || sortError) && (
            <div className="flex flex-wrap items-center gap-2 text-sm">
              {view.tag && (
                <span className="inline-flex items-center gap-1 rounded-full border bg-muted px-2.5 py-0.5">
                  <Tag className="size-3.5" aria-hidden /> tag: {view.tag}
                  <button
                    type="button"
                    aria-label={`Stop filtering by tag ${view.tag}`}
                    className="rounded-sm hover:text-destructive"
                    onClick={() => view.setTag(null)}
                  >
                    <X className="size-3.5" />
                  </button>
                </span>
              )}
              {sortError && (
                <p role="alert" className="text-destructive">
                  Cannot sort: {sortError}{" "}
                  <button type="button" className="underline" onClick={() => view.setSort("created_at", "desc")}>
                    Sort by creation time
                  </button>
                </p>
              )}
            </div>
          )}
          {selected.size > 0 && (
            <BulkActions
              editable={can.edit}
              projectId={projectId}
              selected={[...selected.values()]}
              groups={groupList}
              onClear={() => setSelected(new Map())}
              onDone={(removed) =>
                removed.length &&
                setSelected((current) => {
                  const next = new Map(current);
                  removed.forEach((id) => next.delete(id));
                  return next;
                })
              }
            />
          )}
          {otherError ? (
            <ErrorState error={otherError} retry={() => runs.first.refetch()} />
          ) : !ready || (runs.first.isPending && !filterError && !sortError) ? (
            <LoadingRows rows={8} />
          ) : runs.total === 0 && !runs.first.isFetching ? (
            <EmptyState
              title={filterError || sortError ? "Fix the filter to see runs" : "No run matches this view"}
              description={view.filtered ? "Change or clear the filters." : undefined}
              action={
                view.filtered && (
                  <Button variant="outline" onClick={view.clearFilters}>
                    Clear filters
                  </Button>
                )
              }
            />
          ) : (
            <>
              <RunsTable
                total={runs.total}
                rowAt={runs.rowAt}
                onVisibleRows={runs.setVisibleRows}
                columns={columns}
                ctx={ctxBase}
                sort={{ key: view.sort, order: view.order }}
                onSort={onSort}
                selected={selected}
                onSelect={onSelect}
                allSelected={allSelected}
                onSelectAll={onSelectAll}
                viewKey={viewKey}
                initialRow={view.row}
                onTopRow={view.setRow}
                dimmed={runs.stale || selectingAll}
              />
              <p className="text-sm text-muted-foreground" aria-live="polite">
                {runs.total} run{runs.total === 1 ? "" : "s"} in this view
                {onlyDiffering && columns.length < chosen.length
                  ? ` · ${chosen.length - columns.length} column${chosen.length - columns.length === 1 ? "" : "s"} hidden (same in every run shown)`
                  : ""}
              </p>
            </>
          )}
        </>
      )}
    </div>
  );
}

