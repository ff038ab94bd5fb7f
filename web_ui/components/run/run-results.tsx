"use client";

import { ArrowDown, ArrowUp, FileBarChart } from "lucide-react";
import { useMemo, useState } from "react";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { ApiError, type Schemas } from "@/lib/api/client";
import { isFinished } from "@/lib/runs";
import { cn, formatMetric } from "@/lib/utils";
import { ConfusionMatrix } from "./confusion-matrix";
import { useRunResults } from "./queries";

type Run = Schemas["RunDetail"];

interface PerClass {
  class: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  support: number | null;
}

interface SplitResult {
  scalars: Record<string, number | null>;
  per_class: PerClass[];
  confusion: number[][];
  num_samples?: number;
}

const SPLITS = ["val", "test"] as const;
type Split = (typeof SPLITS)[number];
const SPLIT_NAMES: Record<Split, string> = { val: "Validation", test: "Test" };

/** results.json's evaluation of a split, if it has a usable one. */
function splitResult(results: Record<string, unknown>, split: Split): SplitResult | null {
  const raw = results[split] as Partial<SplitResult> | undefined;
  if (!raw || typeof raw !== "object") return null;
  return {
    scalars: raw.scalars ?? {},
    per_class: Array.isArray(raw.per_class) ? raw.per_class : [],
    confusion: Array.isArray(raw.confusion) ? raw.confusion : [],
    num_samples: raw.num_samples,
  };
}

function FinalMetrics({ splits }: { splits: Partial<Record<Split, SplitResult>> }) {
  const present = SPLITS.filter((s) => splits[s]);
  const names = [...new Set(present.flatMap((s) => Object.keys(splits[s]!.scalars)))];
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Final metrics</CardTitle>
      </CardHeader>
      <CardContent className="overflow-x-auto">
        <table className="w-full text-sm">
          <caption className="sr-only">Final metrics by split</caption>
          <thead className="text-left text-xs text-muted-foreground">
            <tr className="border-b">
              <th scope="col" className="py-1.5 pr-4 font-medium">Metric</th>
              {present.map((s) => (
                <th key={s} scope="col" className="py-1.5 pl-4 text-right font-medium">
                  {SPLIT_NAMES[s]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y">
            {names.map((name) => (
              <tr key={name}>
                <th scope="row" className="py-1.5 pr-4 text-left font-mono text-xs font-normal">
                  {name}
                </th>
                {present.map((s) => (
                  <td key={s} className="py-1.5 pl-4 text-right tabular-nums">
                    {formatMetric(splits[s]!.scalars[name])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </CardContent>
    </Card>
  );
}

type SortKey = keyof PerClass;

function PerClassTable({ rows }: { rows: PerClass[] }) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: "class", desc: false });
  const sorted = useMemo(() => {
    const out = [...rows];
    out.sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      const cmp =
        typeof x === "string" || typeof y === "string"
          ? String(x).localeCompare(String(y), undefined, { numeric: true })
          : (x ?? -Infinity) - (y ?? -Infinity);
      return sort.desc ? -cmp : cmp;
    });
    return out;
  }, [rows, sort]);
  const columns: { key: SortKey; label: string; numeric: boolean }[] = [
    { key: "class", label: "Class", numeric: false },
    { key: "precision", label: "Precision", numeric: true },
    { key: "recall", label: "Recall", numeric: true },
    { key: "f1", label: "F1", numeric: true },
    { key: "support", label: "Support", numeric: true },
  ];
  return (
    <table className="w-full text-sm" aria-label="Per-class metrics">
      <thead className="text-xs text-muted-foreground">
        <tr className="border-b">
          {columns.map((c) => {
            const active = sort.key === c.key;
            return (
              <th
                key={c.key}
                scope="col"
                aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}
                className={cn("py-1 font-medium", c.numeric ? "text-right" : "text-left")}
              >
                <button
                  type="button"
                  className={cn(
                    "inline-flex items-center gap-1 rounded px-1 py-0.5 hover:text-foreground",
                    active && "text-foreground",
                  )}
                  onClick={() =>
                    setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : c.numeric }))
                  }
                >
                  {c.label}
                  {active && (sort.desc ? <ArrowDown className="size-3" aria-hidden /> : <ArrowUp className="size-3" aria-hidden />)}
                </button>
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody className="divide-y">
        {sorted.map((row) => (
          <tr key={row.class}>
            <th scope="row" className="py-1.5 pl-1 text-left font-medium">
              {row.class}
            </th>
            <td className="py-1.5 pr-1 text-right tabular-nums">{formatMetric(row.precision)}</td>
            <td className="py-1.5 pr-1 text-right tabular-nums">{formatMetric(row.recall)}</td>
            <td className="py-1.5 pr-1 text-right tabular-nums">{formatMetric(row.f1)}</td>
            <td className="py-1.5 pr-1 text-right tabular-nums">{row.support ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** results.json: final metrics of val and test, and per split the confusion matrix and the
 *  per-class table. */
export function RunResults({ run }: { run: Run }) {
  const results = useRunResults(run.id, run.state);
  const splits = useMemo(() => {
    const out: Partial<Record<Split, SplitResult>> = {};
    if (results.data) {
      for (const s of SPLITS) {
        const r = splitResult(results.data, s);
        if (r) out[s] = r;
      }
    }
    return out;
  }, [results.data]);
  const available = SPLITS.filter((s) => splits[s]);
  const [chosen, setChosen] = useState<Split | null>(null);
  const split = chosen && splits[chosen] ? chosen : (available[0] ?? null);

  if (results.isPending) return <LoadingRows rows={4} />;
  if (results.error && !results.data) {
    if (results.error instanceof ApiError && results.error.status === 404) {
      return (
        <EmptyState
          icon={<FileBarChart className="size-8" />}
          title="No results yet"
          description={
            isFinished(run.state)
              ? "This run ended without writing results.json (it stopped before its final evaluation)."
              : "The trainer writes results.json when the run finishes."
          }
        />
      );
    }
    return <ErrorState error={results.error} retry={() => results.refetch()} />;
  }
  if (!split) {
    return <EmptyState title="results.json holds no evaluation" description="It has no val or test section." />;
  }
  const current = splits[split]!;
  const classes = current.per_class.map((c) => c.class);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center gap-2" role="radiogroup" aria-label="Split">
        {available.map((s) => (
          <button
            key={s}
            type="button"
            role="radio"
            aria-checked={s === split}
            onClick={() => setChosen(s)}
            className={cn(
              "rounded-md border px-3 py-1 text-sm",
              s === split ? "border-primary bg-primary/10 font-medium" : "hover:bg-accent",
            )}
          >
            {SPLIT_NAMES[s]}
          </button>
        ))}
        {current.num_samples != null && (
          <span className="text-sm text-muted-foreground">{current.num_samples.toLocaleString()} images</span>
        )}
      </div>
      <div className="grid items-start gap-4 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <Card className="xl:row-span-2">
          <CardHeader>
            <CardTitle className="text-base">Confusion matrix ({SPLIT_NAMES[split].toLowerCase()})</CardTitle>
          </CardHeader>
          <CardContent>
            {current.confusion.length ? (
              <ConfusionMatrix
                matrix={current.confusion}
                classes={classes.length === current.confusion.length ? classes : current.confusion.map((_, i) => String(i))}
                title={`Confusion matrix, ${SPLIT_NAMES[split].toLowerCase()}`}
              />
            ) : (
              <p className="text-sm text-muted-foreground">No confusion matrix in results.json.</p>
            )}
          </CardContent>
        </Card>
        <FinalMetrics splits={splits} />
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Per class ({SPLIT_NAMES[split].toLowerCase()})</CardTitle>
          </CardHeader>
          <CardContent className="max-h-[70vh] overflow-auto">
            {current.per_class.length ? (
              <PerClassTable rows={current.per_class} />
            ) : (
              <p className="text-sm text-muted-foreground">No per-class metrics in results.json.</p>
            )}
          </CardContent>
        </Card>
      </div>
    </div>
  );
}
