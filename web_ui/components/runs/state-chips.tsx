"use client";

import type { Schemas } from "@/lib/api/client";
import { RUN_STATES, type RunState } from "@/lib/runs";
import { cn } from "@/lib/utils";

type Counts = Schemas["RunStateCounts"];

/** "All 120 · queued 3 · running 2 ...": how many runs of the view are in each state, each a
 *  toggle that filters the table to that state. */
export function StateChips({
  counts,
  loading,
  state,
  onState,
}: {
  counts: Counts | undefined;
  /** still counting (no numbers yet): "…"; not loading and no numbers (an error): "—" */
  loading: boolean;
  state: RunState | null;
  onState: (state: RunState | null) => void;
}) {
  const chip = (label: string, count: number | undefined, value: RunState | null) => {
    const active = state === value;
    return (
      <button
        key={label}
        type="button"
        aria-pressed={active}
        onClick={() => onState(active && value !== null ? null : value)}
        className={cn(
          "inline-flex h-8 items-center gap-1.5 rounded-full border px-3 text-sm transition-colors focus-visible:outline-2 focus-visible:outline-ring",
          active ? "border-primary bg-primary text-primary-foreground" : "bg-background hover:bg-accent",
        )}
      >
        <span className="capitalize">{label}</span>
        <span className={cn("tabular-nums", active ? "opacity-90" : "text-muted-foreground")}>
          {count ?? (loading ? "…" : "—")}
        </span>
      </button>
    );
  };
  return (
    <div role="group" aria-label="Filter by state" className="flex flex-wrap gap-2">
      {chip("all", counts?.total, null)}
      {RUN_STATES.map((s) => chip(s, counts?.states[s], s))}
    </div>
  );
}
