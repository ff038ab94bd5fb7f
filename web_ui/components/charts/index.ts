// The chart components: the only place uPlot is imported. The run page and the compare page
// both draw with these.
export { LineChart, type LineChartProps } from "./line-chart";
export { ChartControls, decodeChartSettings, encodeChartSettings } from "./chart-controls";
export { toPoints, type SeriesSource, type XContext } from "./x-values";
export { useFrameBatch } from "./use-frame-batch";
export { formatX, xAxisLabel } from "./axes";
export {
  DEFAULT_CHART_SETTINGS,
  X_MODES,
  type ChartSeries,
  type ChartSettings,
  type XMode,
  type XRange,
} from "./types";
