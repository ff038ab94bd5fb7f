"use client";

import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import { runColor } from "@/lib/runs";
import { cn, formatMetric } from "@/lib/utils";
import { CLOCK_INCREMENTS, formatX, xAxisLabel, xTicks } from "./axes";
import { readChartTheme, useThemeVersion, withAlpha } from "./theme";
import { alignSeries, clippedRange, ema, lowerBound, positiveOnly, valueNear, type Column } from "./transform";
import { DEFAULT_CHART_SETTINGS, type ChartSeries, type ChartSettings, type XRange } from "./types";

export interface LineChartProps {
  /** the lines; many runs overlay as many series */
  series: ChartSeries[];
  settings?: Partial<ChartSettings>;
  /** accessible name of the chart (the metric) */
  title: string;
  /** plot height in px (the width follows the container) */
  height?: number;
  /** charts with the same key share the hover cursor (a grid of one run's metrics) */
  syncKey?: string;
  /** the user zoomed (drag on x) or reset the zoom (double-click): x range in x units */
  onZoom?: (range: XRange) => void;
  /** a line (or its legend entry) was clicked: compare uses it to pick a run */
  onSeriesClick?: (id: string) => void;
  /** a series to highlight from outside (compare: the run whose table row is hovered) */
  highlightId?: string | null;
  /** the highlighted line changed by hovering the chart (null: none) */
  onSeriesHover?: (id: string | null) => void;
  className?: string;
}

interface Prepared {
  data: uPlot.AlignedData;
  /** for each input series, the uPlot series index of its drawn (smoothed or raw) line */
  lineIndex: number[];
  /** uPlot series index -> input series index (shadows map to their series) */
  owner: number[];
  last: (number | null)[];
  pointCount: number;
  empty: boolean;
}

function prepare(series: ChartSeries[], settings: ChartSettings): Prepared {
  const smoothing = settings.smoothing > 0;
  const columns: { x: number[]; y: Column }[] = [];
  const lineIndex: number[] = [];
  const owner: number[] = [-1];
  const last: (number | null)[] = [];
  let pointCount = 0;
  series.forEach((s, i) => {
    const raw = settings.logY ? positiveOnly(s.points.y) : s.points.y;
    pointCount += s.points.x.length;
    if (smoothing) {
      columns.push({ x: s.points.x, y: raw });
      owner.push(i);
    }
    const line = smoothing ? ema(raw, settings.smoothing) : raw;
    columns.push({ x: s.points.x, y: line });
    owner.push(i);
    lineIndex.push(columns.length);
    let lastValue: number | null = null;
    for (let k = line.length - 1; k >= 0; k--) {
      if (line[k] != null) {
        lastValue = line[k]!;
        break;
      }
    }
    last.push(lastValue);
  });
  return {
    data: alignSeries(columns) as uPlot.AlignedData,
    lineIndex,
    owner,
    last,
    pointCount,
    empty: pointCount === 0,
  };
}

/** The visible index window of x in [min, max]. */
function visibleWindow(u: uPlot): [number, number] {
  const xs = u.data[0] as number[];
  const { min, max } = u.scales.x ?? {};
  if (min == null || max == null) return [0, xs.length];
  return [lowerBound(xs, min), Math.min(xs.length, lowerBound(xs, max) + 1)];
}

/** A multi-series line chart on uPlot: drag to zoom x (kept while live points arrive),
 *  double-click to reset, hover values in the legend, hover highlights a line. */
export function LineChart({
  series,
  settings: partial,
  title,
  height = 220,
  syncKey,
  onZoom,
  onSeriesClick,
  highlightId,
  onSeriesHover,
  className,
}: LineChartProps) {
  // Keyed on the values, not the object: a parent may pass a fresh object every render, and
  // re-preparing 100k points on each hover would stutter.
  const full = { ...DEFAULT_CHART_SETTINGS, ...partial };
  const { xMode, logY, smoothing, clipOutliers } = full;
  const settings = useMemo<ChartSettings>(
    () => ({ xMode, logY, smoothing, clipOutliers }),
    [xMode, logY, smoothing, clipOutliers],
  );
  const themeVersion = useThemeVersion();
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  /** the user's zoom, re-applied when the chart is rebuilt or new points arrive */
  const zoomRef = useRef<XRange>(null);
  /** true while this component moves the scales itself (not a user zoom) */
  const programmatic = useRef(false);
  const callbacks = useRef({ onZoom, onSeriesClick, onSeriesHover });
  useEffect(() => {
    callbacks.current = { onZoom, onSeriesClick, onSeriesHover };
  });
  const [cursorIdx, setCursorIdx] = useState<number | null>(null);
  const [focused, setFocused] = useState<number | null>(null);
  const focusRef = useRef<number | null>(null);
  /** the user's zoom as text, on the element (for tests and debugging) */
  const [zoomText, setZoomText] = useState<string | null>(null);
  const pointerInside = useRef(false);

  const prepared = useMemo(
    () => prepare(series, settings),
    [series, settings],
  );
  const preparedRef = useRef(prepared);
  preparedRef.current = prepared;

  const colors = series.map((s, i) => s.color ?? runColor(i));
  // What needs a new uPlot (series layout, axes, scales, colours); points alone do not.
  const layoutKey = JSON.stringify([
    series.map((s) => [s.id, s.label, s.dashed ?? false]),
    colors,
    settings,
    themeVersion,
    syncKey ?? null,
  ]);

  useEffect(() => {
    const wrap = wrapRef.current;
    const target = plotRef.current;
    if (!wrap || !target) return;
    const theme = readChartTheme();
    const { smoothing, logY, clipOutliers, xMode } = settings;
    const smooth = smoothing > 0;
    const font = "11px ui-sans-serif, system-ui, sans-serif";
    const axis = {
      stroke: theme.muted,
      font,
      labelFont: font,
      grid: { stroke: theme.grid, width: 1 },
      ticks: { stroke: theme.grid, width: 1, size: 4 },
    };
    const uSeries: uPlot.Series[] = [{ label: xAxisLabel(xMode) }];
    series.forEach((s, i) => {
      const color = colors[i]!;
      if (smooth) {
        uSeries.push({
          label: `${s.label} (raw)`,
          stroke: withAlpha(color, 0.22),
          width: 1,
          points: { show: false },
          dash: s.dashed ? [6, 4] : undefined,
        });
      }
      uSeries.push({
        label: s.label,
        stroke: color,
        width: 1.75,
        dash: s.dashed ? [6, 4] : undefined,
      });
    });
    const opts: uPlot.Options = {
      width: Math.max(120, wrap.clientWidth),
      height,
      legend: { show: false },
      focus: { alpha: 0.25 },
      cursor: {
        drag: { x: true, y: false, setScale: true },
        focus: { prox: 24 },
        points: { size: 6 },
        // The cursor only (mouse moves), not drags: each chart zooms on its own, and a caller
        // may re-fetch that chart's window.
        sync: syncKey
          ? {
              key: syncKey,
              setSeries: false,
              filters: { pub: (type) => type === "mousemove" || type === "mouseleave" },
            }
          : undefined,
      },
      scales: {
        x: { time: xMode === "time" },
        y: {
          distr: logY ? 3 : 1,
          log: 10,
          range: (u, dataMin, dataMax) => {
            let min: number | null = dataMin;
            let max: number | null = dataMax;
            if (clipOutliers) {
              const lines = preparedRef.current.lineIndex.map((i) => u.data[i]!);
              const [from, to] = visibleWindow(u);
              const r = clippedRange(lines, from, to);
              if (r) [min, max] = r;
            }
            if (min == null || max == null || !Number.isFinite(min) || !Number.isFinite(max)) {
              return logY ? [0.1, 10] : [0, 1];
            }
            if (logY) {
              // Values <= 0 were dropped (log axes cannot show them); whole decades around.
              if (max <= 0) return [0.1, 10];
              const low = min > 0 ? min : max / 10;
              return uPlot.rangeLog(low, max, 10, true);
            }
            return uPlot.rangeNum(min, max, 0.1, true);
          },
        },
      },
      axes: [
        {
          ...axis,
          // Clock labels ("07:56:36") are wider than step numbers, and step on clock units.
          ...(xMode === "time" || xMode === "relative" ? { space: 80, incrs: CLOCK_INCREMENTS } : {}),
          values: (u, splits) => {
            const { min, max } = u.scales.x ?? {};
            return xTicks(xMode, splits, (max ?? 0) - (min ?? 0));
          },
        },
        {
          ...axis,
          size: 56,
          // On a log axis, label the decades only (uPlot adds unlabeled minor ticks between).
          values: (_u, splits) =>
            splits.map((v) =>
              logY && v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) > 1e-9 ? "" : formatMetric(v),
            ),
        },
      ],
      series: uSeries,
      hooks: {
        setCursor: [(u) => setCursorIdx(u.cursor.idx ?? null)],
        setSeries: [
          (_u, index, opts) => {
            // Typed as a Series, but a focus change passes {focus}.
            if ((opts as { focus?: boolean }).focus == null) return;
            const owner = index == null ? null : (preparedRef.current.owner[index] ?? null);
            focusRef.current = owner != null && owner >= 0 ? owner : null;
            setFocused(focusRef.current);
            // Only the chart under the pointer reports: synced charts focus lines of their own.
            if (pointerInside.current) {
              const hoveredSeries = focusRef.current != null ? series[focusRef.current] : undefined;
              callbacks.current.onSeriesHover?.(hoveredSeries?.id ?? null);
            }
          },
        ],
        setScale: [
          (u, key) => {
            if (key !== "x" || programmatic.current) return;
            const xs = u.data[0] as number[];
            const { min, max } = u.scales.x ?? {};
            const whole =
              xs.length === 0 || min == null || max == null || (min <= xs[0]! && max >= xs[xs.length - 1]!);
            const next: XRange = whole ? null : [min, max];
            zoomRef.current = next;
            setZoomText(next ? `${next[0]},${next[1]}` : null);
            callbacks.current.onZoom?.(next);
          },
        ],
      },
    };
    programmatic.current = true;
    const u = new uPlot(opts, preparedRef.current.data, target);
    const zoom = zoomRef.current;
    if (zoom) u.setScale("x", { min: zoom[0], max: zoom[1] });
    programmatic.current = false;
    uRef.current = u;

    const over = u.over;
    const onDblClick = () => {
      // uPlot resets x to the data's extent itself (through the setScale hook above).
      zoomRef.current = null;
    };
    const onClick = () => {
      if (u.select.width > 2) return; // the end of a drag-zoom, not a click
      const owner = focusRef.current;
      if (owner != null && series[owner]) callbacks.current.onSeriesClick?.(series[owner].id);
    };
    const onEnter = () => {
      pointerInside.current = true;
    };
    const onLeave = () => {
      pointerInside.current = false;
      callbacks.current.onSeriesHover?.(null);
    };
    over.addEventListener("dblclick", onDblClick);
    over.addEventListener("click", onClick);
    over.addEventListener("mouseenter", onEnter);
    over.addEventListener("mouseleave", onLeave);
    const resize = new ResizeObserver(() => {
      const width = Math.max(120, wrap.clientWidth);
      if (width !== u.width) u.setSize({ width, height });
    });
    resize.observe(wrap);
    return () => {
      resize.disconnect();
      over.removeEventListener("dblclick", onDblClick);
      over.removeEventListener("click", onClick);
      over.removeEventListener("mouseenter", onEnter);
      over.removeEventListener("mouseleave", onLeave);
      u.destroy();
      uRef.current = null;
    };
    // layoutKey stands for series layout, colours, settings and theme.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layoutKey, height]);

  // New points (live or a zoomed window at full resolution): keep the user's zoom.
  useEffect(() => {
    const u = uRef.current;
    if (!u || u.data === prepared.data) return;
    programmatic.current = true;
    const zoom = zoomRef.current;
    if (zoom) {
      u.setData(prepared.data, false);
      u.setScale("x", { min: zoom[0], max: zoom[1] }); // re-ranges y to the new points
    } else {
      u.setData(prepared.data);
    }
    programmatic.current = false;
    setCursorIdx(u.cursor.idx ?? null); // an index into the new data

  }, [prepared]);

  // Highlight from outside (not while the pointer is over this chart, which owns its focus).
  useEffect(() => {
    const u = uRef.current;
    if (!u || highlightId === undefined || pointerInside.current) return;
    const index = highlightId == null ? -1 : series.findIndex((s) => s.id === highlightId);
    if ((index < 0 ? null : index) === focusRef.current) return;
    u.setSeries(index < 0 ? null : preparedRef.current.lineIndex[index]!, { focus: true });
  }, [highlightId, series, layoutKey]);

  const xs = prepared.data[0] as number[];
  const hoverX = cursorIdx != null && cursorIdx < xs.length ? xs[cursorIdx] : undefined;
  const highlight = (index: number | null) => {
    const u = uRef.current;
    if (!u) return;
    onSeriesHover?.(index == null ? null : (series[index]?.id ?? null));
    u.setSeries(index == null ? null : prepared.lineIndex[index]!, { focus: true });
  };

  return (
    <div
      className={cn("flex min-w-0 flex-col gap-1", className)}
      role="figure"
      aria-label={`${title}: line chart of ${series.length} series`}
      data-points={prepared.pointCount}
      data-zoom={zoomText ?? undefined}
    >
      <div ref={wrapRef} className="relative w-full" style={{ height }}>
        <div ref={plotRef} />
        {prepared.empty && (
          <p className="pointer-events-none absolute inset-0 flex items-center justify-center text-sm text-muted-foreground">
            No points yet
          </p>
        )}
      </div>
      <ul className="flex flex-wrap items-center gap-x-3 gap-y-1 px-1 text-xs" aria-label={`${title} legend`}>
        <li className="text-muted-foreground tabular-nums">
          {hoverX !== undefined ? `${xAxisLabel(settings.xMode)} ${formatX(hoverX, settings.xMode)}` : "last"}
        </li>
        {series.map((s, i) => {
          const column = prepared.data[prepared.lineIndex[i]!] as (number | null | undefined)[];
          const value = cursorIdx != null ? valueNear(column, cursorIdx) : prepared.last[i];
          const content = (
            <>
              <span
                aria-hidden
                className="inline-block h-0.5 w-3 rounded"
                style={{ background: colors[i], opacity: focused == null || focused === i ? 1 : 0.35 }}
              />
              <span className={cn("max-w-48 truncate", focused === i && "font-semibold")}>{s.label}</span>
              <span className="font-medium tabular-nums" data-legend-value>
                {formatMetric(value)}
              </span>
            </>
          );
          return (
            <li
              key={s.id}
              className="flex items-center gap-1.5"
              onMouseEnter={() => highlight(i)}
              onMouseLeave={() => highlight(null)}
            >
              {onSeriesClick ? (
                <button
                  type="button"
                  className="flex items-center gap-1.5 rounded hover:underline"
                  onClick={() => onSeriesClick(s.id)}
                  onFocus={() => highlight(i)}
                  onBlur={() => highlight(null)}
                >
                  {content}
                </button>
              ) : (
                content
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
