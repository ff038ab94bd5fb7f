"use client";

import { Label } from "@/components/ui/label";
import { Switch } from "@/components/ui/switch";
import { Card } from "@/components/ui/card";
import { cn } from "@/lib/utils";
import type { Comparison, PickedRun } from "./use-comparison";

type Config = Comparison["config"];

/** Config values as written in a config: strings bare, the rest as JSON; "—" for a field the
 *  snapshot does not have (or has as null: the API does not tell them apart). */
function valueText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value === "" ? '""' : value;
  return JSON.stringify(value);
}

interface Row {
  key: string;
  /** one per run (differing), or one shared value */
  values: unknown[] | null;
  shared?: unknown;
}

/** The runs' config snapshots side by side, one column per run: by default only the fields
 *  whose values differ, with the cells that differ from the reference run (the baseline, else
 *  the first) marked; "Show all fields" adds the shared ones as one spanning value. */
export function ConfigDiff({
  runs,
  config,
  baseline,
  showAll,
  onShowAll,
}: {
  runs: PickedRun[];
  config: Config;
  baseline: number | null;
  showAll: boolean;
  onShowAll: (all: boolean) => void;
}) {
  const rows: Row[] = config.differing.map((d) => ({ key: d.key, values: d.values }));
  if (showAll) {
    for (const [key, shared] of Object.entries(config.same)) rows.push({ key, values: null, shared });
    rows.sort((a, b) => a.key.localeCompare(b.key));
  }
  const sameCount = Object.keys(config.same).length;
  const reference = Math.max(0, baseline != null ? runs.findIndex((r) => r.id === baseline) : 0);
  return (
    <section aria-labelledby="config-diff-title" className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h2 id="config-diff-title" className="text-base font-semibold">
            Config differences
          </h2>
          <p className="text-sm text-muted-foreground">
            {config.differing.length === 0
              ? `The configs are identical (${sameCount} fields).`
              : `${config.differing.length} field${config.differing.length === 1 ? "" : "s"} differ; ${sameCount} are the same.`}
          </p>
        </div>
        <div className="flex items-center gap-2">
          <Switch id="config-show-all" checked={showAll} onCheckedChange={onShowAll} />
          <Label htmlFor="config-show-all" className="font-normal">
            Show all fields
          </Label>
        </div>
      </div>
      {rows.length > 0 && (
        <Card className="overflow-x-auto">
          <table className="w-full table-fixed text-sm" aria-label="Config fields of the compared runs">
            <colgroup>
              <col className="w-56" />
              {runs.map((r) => (
                <col key={r.id} className="min-w-40" />
              ))}
            </colgroup>
            <thead className="border-b bg-muted/40 text-left text-xs text-muted-foreground">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  Field
                </th>
                {runs.map((r) => (
                  <th key={r.id} scope="col" className="px-3 py-2 font-medium text-foreground">
                    <span className="flex items-center gap-2">
                      <span className="size-2.5 shrink-0 rounded-full" style={{ background: r.color }} aria-hidden />
                      <span className="truncate">{r.detail?.name ?? `run ${r.id}`}</span>
                    </span>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y font-mono text-xs">
              {rows.map((row) => (
                <tr key={row.key} data-config-key={row.key} data-differs={row.values ? true : undefined}>
                  <th scope="row" className={cn("px-3 py-1.5 text-left font-medium [overflow-wrap:anywhere]", !row.values && "text-muted-foreground")}>
                    {row.key}
                  </th>
                  {row.values ? (
                    row.values.map((value, i) => {
                      const changed = i !== reference && valueText(value) !== valueText(row.values![reference]);
                      return (
                        <td
                          key={i}
                          className={cn("px-3 py-1.5 align-top break-all", changed && "bg-warning/15 font-semibold")}
                        >
                          {valueText(value)}
                        </td>
                      );
                    })
                  ) : (
                    <td colSpan={runs.length} className="max-w-0 truncate px-3 py-1.5 text-muted-foreground" title={valueText(row.shared)}>
                      {valueText(row.shared)}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </section>
  );
}
