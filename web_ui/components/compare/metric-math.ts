// Pure helpers of the compare page: which metrics align per epoch, best/last values, deltas
// against a baseline. No React here, so the rules are easy to read in one place.

export type Direction = "min" | "max" | null;

/** The trainer's per-step scalars: they have no epoch, so they are compared by step. */
const PER_STEP_METRICS = new Set(["train/step_loss", "train/lr"]);
const EVALUATED_SPLITS = new Set(["train", "val", "test"]);

/** True for a metric evaluated once per epoch ("val/acc@1"), which `by=epoch` can align
 *  (the server's rule: an evaluated split; the step loss, the lr and system samples are not). */
export function isPerEpochMetric(name: string): boolean {
  const split = name.split("/", 1)[0] ?? "";
  return EVALUATED_SPLITS.has(split) && !PER_STEP_METRICS.has(name);
}

/** Which way is better when the server did not say (e.g. for a metric not charted yet). */
export function guessDirection(name: string): Direction {
  if (name === "train/lr" || name.startsWith("system/")) return null;
  const scalar = name.slice(name.indexOf("/") + 1);
  if (/loss|ece|error/.test(scalar)) return "min";
  if (isPerEpochMetric(name)) return "max";
  return null;
}

/** The charts a comparison opens with: each run's monitored metric, then the losses and the
 *  learning rate, kept to the ones the runs logged (all of them while the names are unknown). */
export function defaultMetrics(monitored: string[], logged: Set<string> | null): string[] {
  const wanted = [...monitored, "train/loss", "val/loss", "train/lr"];
  const unique = [...new Set(wanted)];
  return logged ? unique.filter((name) => logged.has(name)) : unique;
}

export function finite(value: number | null | undefined): value is number {
  return value != null && Number.isFinite(value);
}

/** The best value of a series in its direction (null: no direction, or no value). */
export function bestOf(values: (number | null)[], direction: Direction): number | null {
  if (!direction) return null;
  let best: number | null = null;
  for (const v of values) {
    if (!finite(v)) continue;
    if (best === null || (direction === "min" ? v < best : v > best)) best = v;
  }
  return best;
}

export function lastOf(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    const v = values[i];
    if (finite(v)) return v;
  }
  return null;
}

/** The index of the best of several values in a column (null when there is no winner:
 *  no direction, fewer than two values, or all equal). */
export function winnerIndex(values: (number | null)[], direction: Direction): number | null {
  if (!direction) return null;
  const present = values.filter(finite);
  if (present.length < 2) return null;
  const best = direction === "min" ? Math.min(...present) : Math.max(...present);
  if (present.every((v) => v === best)) return null;
  return values.findIndex((v) => v === best);
}

export interface Delta {
  /** value - baseline */
  diff: number;
  /** relative to the baseline, when it is not 0 */
  relative: number | null;
  /** better / worse / same in the metric's direction; null when the direction is unknown */
  verdict: "better" | "worse" | "same" | null;
}

export function deltaOf(value: number | null, baseline: number | null, direction: Direction): Delta | null {
  if (!finite(value) || !finite(baseline)) return null;
  const diff = value - baseline;
  const relative = baseline !== 0 ? diff / Math.abs(baseline) : null;
  let verdict: Delta["verdict"] = null;
  if (direction) {
    if (diff === 0) verdict = "same";
    else verdict = (direction === "min" ? diff < 0 : diff > 0) ? "better" : "worse";
  }
  return { diff, relative, verdict };
}
