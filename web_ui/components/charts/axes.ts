// Tick and value labels for each x mode.
import { formatMetric } from "@/lib/utils";
import type { XMode } from "./types";

/** "1:05:03", "4:05", "0:12": relative seconds as a clock. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Tick steps for time axes, in seconds: clock units (10 s, 1 min, 15 min, 1 h, 1 day...). */
export const CLOCK_INCREMENTS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  172800, 604800,
];

// 24 h, like the log view: "16:49:39", never "04:49:39 PM" (half as wide on an axis).
const timeOfDay = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const dateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** One x value as text (hover legend, aria labels). */
export function formatX(value: number, mode: XMode): string {
  switch (mode) {
    case "step":
      return Number.isInteger(value) ? value.toLocaleString() : formatMetric(value);
    case "epoch":
      return Number(value.toFixed(2)).toString();
    case "time":
      return dateTime.format(new Date(value * 1000));
    case "relative":
      return formatClock(value);
  }
}

/** Tick labels for the x axis (uPlot's `values`). */
export function xTicks(mode: XMode, splits: number[], span: number): string[] {
  if (mode === "time") {
    const fmt = span > 86400 ? dateTime : timeOfDay;
    return splits.map((v) => fmt.format(new Date(v * 1000)));
  }
  if (mode === "relative") return splits.map(formatClock);
  if (mode === "step") {
    return splits.map((v) => (Math.abs(v) >= 1e4 ? `${Number((v / 1000).toPrecision(3))}k` : String(v)));
  }
  return splits.map((v) => Number(v.toFixed(2)).toString());
}

export function xAxisLabel(mode: XMode): string {
  return { step: "step", epoch: "epoch", time: "time", relative: "time since start" }[mode];
}
