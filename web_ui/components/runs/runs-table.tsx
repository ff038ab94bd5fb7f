"use client";

import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowDown, ArrowUp, ArrowUpDown } from "lucide-react";
import Link from "next/link";
import type * as React from "react";
import { useEffect, useRef } from "react";
import { Checkbox } from "@/components/ui/checkbox";
import { Skeleton } from "@/components/ui/skeleton";
import type { Run } from "@/lib/runs";
import { cn } from "@/lib/utils";
import type { CellContext, RunColumn } from "./run-columns";
import type { LoadedRow } from "./use-runs-window";

const ROW_HEIGHT = 44;
const SELECT_WIDTH = 44;
const NAME_WIDTH = 240;
// The checkbox and the name stay in view while wide tables scroll sideways.
const STICKY_SELECT = "sticky left-0 z-[1] bg-card";
const STICKY_NAME = "sticky left-[44px] z-[1] bg-card border-r";

export interface SortState {
  key: string;
  order: "asc" | "desc";
}

interface RunsTableProps {
  total: number;
  rowAt: (index: number) => LoadedRow | null;
  onVisibleRows: (start: number, end: number) => void;
  columns: RunColumn[];
  ctx: Omit<CellContext, "fetchedAt">;
  sort: SortState;
  onSort: (key: string) => void;
  selected: ReadonlyMap<number, Run>;
  /** a row's checkbox: `range` when shift was held (select from the last one clicked) */
  onSelect: (row: LoadedRow, range: boolean) => void;
  allSelected: boolean | "indeterminate";
  onSelectAll: () => void;
  /** changes when the view does: scroll back to the top */
  viewKey: string;
  /** the row to open at (from the URL), and where the top row is reported once scrolling rests */
  initialRow: number | null;
  onTopRow: (index: number) => void;
  dimmed?: boolean;
}

function SortHeader({ column, sort, onSort }: { column: RunColumn; sort: SortState; onSort: (key: string) => void }) {
  const active = column.sortKey != null && sort.key === column.sortKey;
  const Icon = active ? (sort.order === "asc" ? ArrowUp : ArrowDown) : ArrowUpDown;
  const label = (
    <span className="flex min-w-0 flex-col leading-tight">
      <span className="truncate" title={column.label}>
        {column.sortKey && <span className="sr-only">Sort by </span>}
        {column.label}
      </span>
      {column.detail && <span className="truncate text-[11px] font-normal text-muted-foreground">{column.detail}</span>}
    </span>
  );
  if (!column.sortKey) return label;
  return (
    <button
      type="button"
      onClick={() => onSort(column.sortKey!)}
      className={cn(
        "flex w-full min-w-0 items-center gap-1 rounded-sm text-left hover:text-foreground focus-visible:outline-2 focus-visible:outline-ring",
        column.numeric && "flex-row-reverse text-right",
      )}
    >
      {label}
      <Icon className={cn("size-3.5 shrink-0", active ? "text-foreground" : "text-muted-foreground/60")} aria-hidden />
    </button>
  );
}

/** The runs of the view, virtualized: only the rows on screen are in the DOM (a few dozen of
 *  2,000), each a real table row so that screen readers read a table. */
export function RunsTable({
  total,
  rowAt,
  onVisibleRows,
  columns,
  ctx,
  sort,
  onSort,
  selected,
  onSelect,
  allSelected,
  onSelectAll,
  viewKey,
  initialRow,
  onTopRow,
  dimmed,
}: RunsTableProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => onVisibleRows(first, last), [first, last, onVisibleRows]);

  // Open at the URL's row once the rows exist; a new view (filter, sort) starts at the top.
  const opened = useRef(false);
  useEffect(() => {
    if (opened.current || total === 0) return;
    opened.current = true;
    if (initialRow && initialRow < total) virtualizer.scrollToIndex(initialRow, { align: "start" });
  }, [total, initialRow, virtualizer]);
  const shownView = useRef(viewKey);
  useEffect(() => {
    if (shownView.current === viewKey) return;
    shownView.current = viewKey;
    scrollRef.current?.scrollTo({ top: 0 });
  }, [viewKey]);
  const topRow = Math.floor((virtualizer.scrollOffset ?? 0) / ROW_HEIGHT);
  useEffect(() => {
    if (!opened.current) return;
    const timer = setTimeout(() => onTopRow(topRow), 400);
    return () => clearTimeout(timer);
  }, [topRow, onTopRow]);

  const paddingTop = items[0]?.start ?? 0;
  const paddingBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const width = SELECT_WIDTH + NAME_WIDTH + columns.reduce((sum, c) => sum + c.width, 0);

  return (
    <div
      ref={scrollRef}
      className={cn(
        "relative max-h-[max(20rem,calc(100vh-19rem))] overflow-auto rounded-lg border bg-card transition-opacity",
        dimmed && "opacity-60",
      )}
      data-testid="runs-scroll"
    >
      <table
        className="table-fixed border-separate border-spacing-0 text-sm"
        style={{ width, minWidth: "100%" }}
        aria-label="Runs"
        aria-rowcount={total + 1}
      >
        <colgroup>
          <col style={{ width: SELECT_WIDTH }} />
          <col style={{ width: NAME_WIDTH }} />
          {columns.map((c) => (
            <col key={c.id} style={{ width: c.width }} />
          ))}
        </colgroup>
        <thead className="sticky top-0 z-10 bg-card">
          <tr aria-rowindex={1}>
            <th scope="col" className={cn("border-b px-3 py-2 text-left", STICKY_SELECT)}>
              <Checkbox
                aria-label={allSelected === false ? `Select all ${total} runs` : "Clear the selection"}
                checked={allSelected}
                onClick={onSelectAll}
                disabled={total === 0}
              />
            </th>
            <th
              scope="col"
              className={cn("border-b px-2 py-2 text-left font-medium text-muted-foreground", STICKY_NAME)}
              aria-sort={sort.key === "name" ? (sort.order === "asc" ? "ascending" : "descending") : undefined}
            >
              <SortHeader column={{ id: "name", label: "Name", sortKey: "name", width: NAME_WIDTH, render: () => null, text: () => "" }} sort={sort} onSort={onSort} />
            </th>
            {columns.map((column) => (
              <th
                key={column.id}
                scope="col"
                className={cn(
                  "border-b px-2 py-2 font-medium text-muted-foreground",
                  column.numeric ? "text-right" : "text-left",
                )}
                aria-sort={
                  column.sortKey && sort.key === column.sortKey
                    ? sort.order === "asc"
                      ? "ascending"
                      : "descending"
                    : undefined
                }
              >
                <SortHeader column={column} sort={sort} onSort={onSort} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {paddingTop > 0 && (
            <tr aria-hidden style={{ height: paddingTop }}>
              <td colSpan={columns.length + 2} />
            </tr>
          )}
          {items.map((item) => {
            const row = rowAt(item.index);
            return row ? (
              <RunRow
                key={row.run.id}
                row={row}
                columns={columns}
                ctx={{ ...ctx, fetchedAt: row.fetchedAt }}
                selected={selected.has(row.run.id)}
                onSelect={onSelect}
              />
            ) : (
              <tr key={`loading-${item.index}`} aria-rowindex={item.index + 2} style={{ height: ROW_HEIGHT }}>
                <td colSpan={columns.length + 2} className="border-b px-3">
                  <Skeleton className="h-5 w-full" />
                </td>
              </tr>
            );
          })}
          {paddingBottom > 0 && (
            <tr aria-hidden style={{ height: paddingBottom }}>
              <td colSpan={columns.length + 2} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function RunRow({
  row,
  columns,
  ctx,
  selected,
  onSelect,
}: {
  row: LoadedRow;
  columns: RunColumn[];
  ctx: CellContext;
  selected: boolean;
  onSelect: (row: LoadedRow, range: boolean) => void;
}) {
  const { run } = row;
  return (
    <tr
      aria-rowindex={row.index + 2}
      aria-selected={selected}
      data-run-id={run.id}
      className="group"
      style={{ height: ROW_HEIGHT }}
    >
      {/* Hover and selection show as a bar at the row's start, not as a tint: any tint takes
          the state badges below their contrast. */}
      <td
        className={cn(
          "border-b px-3",
          STICKY_SELECT,
          selected
            ? "shadow-[inset_4px_0_0_var(--color-primary)]"
            : "group-hover:shadow-[inset_4px_0_0_var(--color-border)]",
        )}
      >
        <Checkbox
          aria-label={`Select ${run.name}`}
          checked={selected}
          onClick={(event: React.MouseEvent) => onSelect(row, event.shiftKey)}
        />
      </td>
      <td className={cn("border-b px-2", STICKY_NAME)}>
        <div className="flex min-w-0 items-baseline gap-1.5">
          <Link href={`/run/?id=${run.id}`} className="truncate font-medium hover:underline" title={run.name}>
            {run.name}
          </Link>
          <span className="shrink-0 text-xs text-muted-foreground tabular-nums">#{run.id}</span>
        </div>
      </td>
      {columns.map((column) => (
        <td key={column.id} className={cn("border-b px-2", column.numeric && "text-right")}>
          <div className="min-w-0 overflow-hidden">{column.render(run, ctx)}</div>
        </td>
      ))}
    </tr>
  );
}
