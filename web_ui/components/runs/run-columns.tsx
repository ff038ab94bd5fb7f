// The run table's columns: the fixed ones (state, progress, best metric...), and one per run
// key the project's runs have: a metric statistic (`best:val/acc@1`) or a config field
// (`param:lr`), whose values the list returns in `run.values` (`column=`). A column's id is
// what `cols=` in the URL lists.
import Link from "next/link";
import type * as React from "react";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import type { Run } from "@/lib/runs";
import { formatDate, formatDuration, formatMetric, timeAgo } from "@/lib/utils";
import { DurationCell, ProgressCell, progressText } from "./run-progress-cell";
import type { RunKeys } from "./run-query";

export interface CellContext {
  groupName: (id: number | null) => string;
  /** when the row's data arrived (running durations count on from there) */
  fetchedAt: number;
  onTag: (tag: string) => void;
}

export interface RunColumn {
  id: string;
  label: string;
  /** a second line in the header (the statistic of a metric column) */
  detail?: string;
  /** the API sort key; absent: the server cannot sort by it */
  sortKey?: string;
  /** the `column=` key whose value the cell shows */
  valueKey?: string;
  width: number;
  numeric?: boolean;
  /** metric and config columns: hidden by "only columns that differ" when all rows agree */
  variable?: boolean;
  render: (run: Run, ctx: CellContext) => React.ReactNode;
  /** the cell as text (CSV, "differs") */
  text: (run: Run, ctx: CellContext) => string;
}

export const STATS = ["best", "last", "min", "max"] as const;
const METRIC_ID = /^(best|last|min|max):([A-Za-z0-9_.@/-]{1,128})$/;
const PARAM_ID = /^param:([A-Za-z0-9_]{1,128})$/;

function valueText(value: unknown): string {
  if (value == null) return "";
  if (typeof value === "number") return String(value);
  return String(value);
}

function ValueCell({ value }: { value: unknown }) {
  if (value == null) return <span className="text-muted-foreground">—</span>;
  if (typeof value === "number") return <span className="tabular-nums">{formatMetric(value)}</span>;
  const text = String(value);
  return (
    <span className="block truncate" title={text}>
      {text.includes("/") ? text.slice(text.lastIndexOf("/") + 1) || text : text}
    </span>
  );
}

const FIXED: RunColumn[] = [
  {
    id: "state",
    label: "State",
    width: 120,
    render: (run) => <RunStateBadge state={run.state} />,
    text: (run) => run.state,
  },
  {
    id: "progress",
    label: "Progress",
    sortKey: "epochs_done",
    width: 170,
    render: (run) => <ProgressCell run={run} />,
    text: (run) => progressText(run),
  },
  {
    id: "best",
    label: "Best",
    detail: "monitored metric",
    sortKey: "best",
    width: 150,
    numeric: true,
    render: (run) => {
      const m = run.summary.monitor;
      return (
        <span className="flex items-baseline justify-end gap-1.5" title={`${m.name} (${m.mode === "min" ? "lower" : "higher"} is better)`}>
          <span className="truncate text-xs text-muted-foreground">{m.name}</span>
          <span className="tabular-nums">{formatMetric(m.best)}</span>
        </span>
      );
    },
    text: (run) => valueText(run.summary.monitor.best),
  },
  {
    id: "agent",
    label: "Agent",
    width: 120,
    render: (run) =>
      run.agent_name ? (
        <span className="block truncate" title={run.agent_name}>
          {run.agent_name}
        </span>
      ) : (
        <span className="text-muted-foreground" title={run.waiting_for ?? undefined}>
          —
        </span>
      ),
    text: (run) => run.agent_name ?? "",
  },
  {
    id: "duration",
    label: "Duration",
    sortKey: "duration",
    width: 110,
    numeric: true,
    render: (run, ctx) => <DurationCell run={run} fetchedAt={ctx.fetchedAt} />,
    text: (run) => (run.summary.duration_s == null ? "" : formatDuration(run.summary.duration_s)),
  },
  {
    id: "tags",
    label: "Tags",
    width: 160,
    render: (run, ctx) => (
      <span className="flex min-w-0 gap-1 overflow-hidden">
        {run.tags.map((tag) => (
          <button
            key={tag}
            type="button"
            onClick={() => ctx.onTag(tag)}
            className="max-w-28 shrink-0 truncate rounded border px-1.5 text-xs hover:bg-accent"
            title={`Show runs tagged ${tag}`}
          >
            {tag}
          </button>
        ))}
      </span>
    ),
    text: (run) => run.tags.join(" "),
  },
  {
    id: "group",
    label: "Group",
    width: 130,
    render: (run, ctx) =>
      run.group_id == null ? (
        <span className="text-muted-foreground">—</span>
      ) : (
        <span className="block truncate">{ctx.groupName(run.group_id)}</span>
      ),
    text: (run, ctx) => (run.group_id == null ? "" : ctx.groupName(run.group_id)),
  },
  {
    id: "config",
    label: "Config",
    width: 90,
    render: (run) =>
      run.config_id == null ? (
        <span className="text-muted-foreground">—</span>
      ) : (
        <Link className="hover:underline" href={`/config/?id=${run.config_id}`}>
          #{run.config_id} v{run.config_version}
        </Link>
      ),
    text: (run) => (run.config_id == null ? "" : `${run.config_id} v${run.config_version}`),
  },
  {
    id: "priority",
    label: "Priority",
    sortKey: "priority",
    width: 90,
    numeric: true,
    render: (run) => <span className="tabular-nums">{run.priority}</span>,
    text: (run) => String(run.priority),
  },
  {
    id: "created",
    label: "Created",
    sortKey: "created_at",
    width: 140,
    render: (run) => <span title={formatDate(run.created_at)}>{timeAgo(run.created_at)}</span>,
    text: (run) => run.created_at,
  },
];

export const FIXED_COLUMNS: readonly RunColumn[] = FIXED;

export const DEFAULT_COLUMNS = [
  "state",
  "progress",
  "best",
  "duration",
  "agent",
  "group",
  "tags",
  "created",
  "param:model_flavour",
  "param:lr",
  "param:batch_size",
];

function keyColumn(id: string, label: string, detail: string | undefined): RunColumn {
  return {
    id,
    label,
    detail,
    sortKey: id,
    valueKey: id,
    width: 120,
    numeric: true,
    variable: true,
    render: (run) => <ValueCell value={run.values?.[id]} />,
    text: (run) => valueText(run.values?.[id]),
  };
}

/** The column with this id, when the project's runs have its key (unknown ids: null, so a
 *  stale `cols=` never makes the list fail). */
export function columnFor(id: string, keys: RunKeys | undefined): RunColumn | null {
  const fixed = FIXED.find((c) => c.id === id);
  if (fixed) return fixed;
  if (!keys) return null;
  const metric = METRIC_ID.exec(id);
  if (metric) {
    const [, stat, name] = metric as unknown as [string, string, string];
    const known = keys.metrics.find((m) => m.name === name);
    if (!known || (stat === "best" && !known.direction)) return null;
    return keyColumn(id, name, stat);
  }
  const param = PARAM_ID.exec(id);
  if (param) {
    const known = keys.params.find((p) => p.name === param[1]);
    if (!known) return null;
    const column = keyColumn(id, known.name, "config");
    return known.type === "number" ? column : { ...column, numeric: false };
  }
  return null;
}

/** Every metric column the project's runs offer, grouped by metric. */
export function metricColumnIds(keys: RunKeys): { name: string; ids: string[] }[] {
  return keys.metrics.map((m) => ({
    name: m.name,
    ids: STATS.filter((s) => s !== "best" || m.direction).map((s) => `${s}:${m.name}`),
  }));
}
