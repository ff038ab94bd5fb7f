"use client";

import { useSearchParams } from "next/navigation";
import { useCallback, useMemo } from "react";

// Everything that shapes a comparison lives in the query string, so a comparison is shared by
// copying its URL: /compare/?runs=4,7&metrics=val/acc@1,val/loss&x=epoch&logy=1&baseline=4

export type XAxis = "step" | "epoch" | "time";
export const X_AXES: { value: XAxis; label: string }[] = [
  { value: "step", label: "Step" },
  { value: "epoch", label: "Epoch" },
  { value: "time", label: "Time" },
];
/** `metrics=none`: every chart turned off (no parameter means the default set). */
export const NO_METRICS = "none";
/** The server compares 2 to 20 runs at once. */
export const MAX_RUNS = 20;

export interface CompareView {
  runs: number[];
  /** null: the default set (monitored metric, losses, lr) */
  metrics: string[] | null;
  x: XAxis;
  logY: boolean;
  /** EMA weight, 0 (off) to 0.99 */
  smoothing: number;
  clipOutliers: boolean;
  baseline: number | null;
  /** charts show each run minus the baseline (only with a baseline) */
  delta: boolean;
  allConfig: boolean;
}

function ids(value: string | null): number[] {
  if (!value) return [];
  const parsed = value
    .split(",")
    .map((part) => Number(part.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return [...new Set(parsed)].slice(0, MAX_RUNS);
}

function parse(params: URLSearchParams): CompareView {
  const x = params.get("x");
  const smoothing = Number(params.get("smooth") ?? 0);
  const baseline = Number(params.get("baseline"));
  const runs = ids(params.get("runs"));
  const metrics = params.get("metrics");
  return {
    runs,
    metrics: metrics === null ? null : metrics === NO_METRICS ? [] : metrics.split(",").filter(Boolean),
    x: x === "epoch" || x === "time" ? x : "step",
    logY: params.get("logy") === "1",
    smoothing: Number.isFinite(smoothing) ? Math.min(0.99, Math.max(0, smoothing)) : 0,
    clipOutliers: params.get("clip") === "1",
    baseline: runs.includes(baseline) ? baseline : null,
    delta: runs.includes(baseline) && params.get("delta") === "1",
    allConfig: params.get("config") === "all",
  };
}

type Change = Partial<Record<"runs" | "metrics" | "x" | "logy" | "smooth" | "clip" | "baseline" | "delta" | "config", string | null>>;

/** The comparison's view state from the URL, and one setter that changes several parameters in
 *  one history entry (replaceState: tweaking options does not flood the back button). */
export function useCompareView(): [CompareView, (change: Change) => void] {
  const params = useSearchParams();
  const view = useMemo(() => parse(new URLSearchParams(params.toString())), [params]);
  const update = useCallback((change: Change) => {
    const current = new URLSearchParams(window.location.search);
    for (const [key, value] of Object.entries(change)) {
      if (value === null || value === undefined || value === "") current.delete(key);
      else current.set(key, value);
    }
    // Commas and slashes read better unescaped, and stay valid in a query string.
    const query = current.toString().replace(/%2C/g, ",").replace(/%2F/g, "/").replace(/%40/g, "@");
    window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}`);
  }, []);
  return [view, update];
}
