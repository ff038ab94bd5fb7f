// The chart components' public shapes. The run page and the compare page both build these;
// keep changes additive (new optional fields only).

/** What the x axis measures. The caller puts x values in these units into each series:
 *  "time" = unix seconds (wall clock), "relative" = seconds since the run (or series) began. */
export type XMode = "step" | "epoch" | "time" | "relative";

export const X_MODES: { value: XMode; label: string }[] = [
  { value: "step", label: "Step" },
  { value: "epoch", label: "Epoch" },
  { value: "time", label: "Wall time" },
  { value: "relative", label: "Relative time" },
];

/** One line. `points.x` ascending; `points.y` null marks a gap (a non-finite value). */
export interface ChartSeries {
  /** stable across renders (a run id, a metric name): keys hover state and click callbacks */
  id: string;
  label: string;
  /** any CSS colour; default: RUN_PALETTE by position */
  color?: string;
  points: { x: number[]; y: (number | null)[] };
  dashed?: boolean;
}

/** How every chart of a view draws: usually one toolbar (ChartControls) for a whole grid. */
export interface ChartSettings {
  xMode: XMode;
  logY: boolean;
  /** EMA weight 0 (off) to 0.99; the raw curve stays as a faint shadow when > 0 */
  smoothing: number;
  /** fit y to the 1st-99th percentiles of every series, so one spike does not flatten the rest */
  clipOutliers: boolean;
}

export const DEFAULT_CHART_SETTINGS: ChartSettings = {
  xMode: "step",
  logY: false,
  smoothing: 0,
  clipOutliers: false,
};

/** A zoomed x window in the chart's x units, or null when showing everything. */
export type XRange = [number, number] | null;
