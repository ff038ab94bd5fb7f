// Turning a metric series from the API (steps, times, epochs) into x values for an x mode.
import type { XMode } from "./types";

export interface SeriesSource {
  steps: number[];
  values: (number | null)[];
  /** when each point was logged (unix seconds) */
  times?: number[];
  /** the trainer's epoch of each point (completed epochs at an evaluation), if it said */
  epochs?: (number | null)[];
}

export interface XContext {
  /** optimizer steps per epoch (progress total_steps / epochs): fractional epochs for every
   *  point, per-step metrics included */
  stepsPerEpoch?: number | null;
  /** t = 0 of relative time (the run's start); default: the series' first point */
  startTime?: number | null;
}

/** The series' points with x in `mode`'s units, ascending. Points the mode cannot place (no
 *  time, no epoch) are left out. */
export function toPoints(
  source: SeriesSource,
  mode: XMode,
  context: XContext = {},
): { x: number[]; y: (number | null)[] } {
  const { steps, values, times, epochs } = source;
  let xOf: (i: number) => number | null;
  switch (mode) {
    case "step":
      return { x: steps, y: values };
    case "epoch": {
      const perEpoch = context.stepsPerEpoch;
      if (perEpoch && perEpoch > 0) xOf = (i) => steps[i]! / perEpoch;
      else xOf = (i) => epochs?.[i] ?? null;
      break;
    }
    case "time":
      xOf = (i) => times?.[i] ?? null;
      break;
    case "relative": {
      const start = context.startTime ?? times?.[0] ?? 0;
      xOf = (i) => (times?.[i] != null ? times[i]! - start : null);
      break;
    }
  }
  const x: number[] = [];
  const y: (number | null)[] = [];
  let sorted = true;
  for (let i = 0; i < steps.length; i++) {
    const xi = xOf(i);
    if (xi == null || !Number.isFinite(xi)) continue;
    if (x.length && xi < x[x.length - 1]!) sorted = false;
    x.push(xi);
    y.push(values[i] ?? null);
  }
  if (sorted) return { x, y };
  const order = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  return { x: order.map((i) => x[i]!), y: order.map((i) => y[i]!) };
}
