"use client";

import { LineChart as LineChartIcon } from "lucide-react";
import { memo, useCallback, useMemo, useState } from "react";
import {
  ChartControls,
  LineChart,
  decodeChartSettings,
  encodeChartSettings,
  toPoints,
  type ChartSettings,
  type XContext,
  type XMode,
  type XRange,
} from "@/components/charts";
import { progressOf } from "@/components/runs/run-progress-cell";
import { Card } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import type { Schemas } from "@/lib/api/client";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { useTopic } from "@/lib/live/hooks";
import { isFinished, runColor } from "@/lib/runs";
import { formatMetric } from "@/lib/utils";
import { groupMetrics, isTimeStepped } from "./metric-groups";
import { useMetricNames } from "./queries";
import { useRunSeries, useZoomedSeries, type MetricSeries } from "./use-run-series";

type Run = Schemas["RunDetail"];

/** The x mode a metric is drawn with: system samples are stepped by time, so they always use a
 *  time axis (relative when the others are relative). */
function modeFor(name: string, mode: XMode): XMode {
  if (!isTimeStepped(name)) return mode;
  return mode === "relative" ? "relative" : "time";
}

function sourceFor(name: string, series: MetricSeries): MetricSeries {
  return isTimeStepped(name) ? { ...series, times: series.steps } : series;
}

/** The step window that an x range of a chart covers, in that chart's x mode. */
function stepWindow(
  name: string,
  series: MetricSeries,
  mode: XMode,
  context: XContext,
  range: [number, number],
): [number, number] | null {
  if (mode === "step") return [Math.floor(range[0]), Math.ceil(range[1])];
  const asSteps = toPoints({ ...sourceFor(name, series), values: series.steps }, mode, context);
  let low = Infinity;
  let high = -Infinity;
  asSteps.x.forEach((x, i) => {
    if (x >= range[0] && x <= range[1]) {
      low = Math.min(low, asSteps.y[i]!);
      high = Math.max(high, asSteps.y[i]!);
    }
  });
  return Number.isFinite(low) ? [low, high] : null;
}

/** One metric's chart. Memoized: a live batch gives new series objects only to the metrics it
 *  has points for, so the other charts skip rendering altogether. */
const MetricChart = memo(function MetricChart({
  runId,
  name,
  base,
  settings,
  context,
}: {
  runId: number;
  name: string;
  base: MetricSeries | undefined;
  settings: ChartSettings;
  context: XContext;
}) {
  const [window, setWindow] = useState<[number, number] | null>(null);
  const data = useZoomedSeries(runId, name, base, window);
  const mode = modeFor(name, settings.xMode);
  const chartSettings = useMemo(() => ({ ...settings, xMode: mode }), [settings, mode]);
  const series = useMemo(() => {
    const points = data ? toPoints(sourceFor(name, data), mode, context) : { x: [], y: [] };
    return [{ id: String(runId), label: name, color: runColor(0), points }];
  }, [data, name, mode, context, runId]);
  const onZoom = useCallback(
    (range: XRange) => {
      if (!range || !data) setWindow(null);
      else setWindow(stepWindow(name, data, mode, context, range));
    },
    [data, name, mode, context],
  );
  return (
    <Card className="p-3" data-metric={name}>
      <h3 className="mb-1 truncate px-1 text-sm font-medium" title={name}>
        {name}
        {data && data.total > data.steps.length && (
          <span className="ml-2 text-xs font-normal text-muted-foreground">
            {data.total.toLocaleString()} points
          </span>
        )}
      </h3>
      <LineChart title={name} series={series} settings={chartSettings} height={190} syncKey={`run-${runId}-${mode}`} onZoom={onZoom} />
    </Card>
  );
});

/** A metric logged once (a test score, a final figure): its value, since a chart of one point
 *  on a full axis says nothing. */
function isSinglePoint(series: MetricSeries | undefined): series is MetricSeries {
  return series != null && series.steps.length === 1 && series.total <= 1;
}

function MetricTiles({ names, series }: { names: string[]; series: Record<string, MetricSeries> }) {
  return (
    <dl className="grid grid-cols-[repeat(auto-fill,minmax(11rem,1fr))] gap-2">
      {names.map((name) => (
        <Card key={name} className="gap-0.5 px-3 py-2" data-metric-tile={name}>
          <dt className="truncate text-xs text-muted-foreground" title={name}>
            {name}
          </dt>
          <dd className="text-lg font-semibold tabular-nums">{formatMetric(series[name]?.values[0])}</dd>
        </Card>
      ))}
    </dl>
  );
}

/** Every logged metric as a chart (or a value tile when it has a single point), grouped by split, with one toolbar for all of them. Live
 *  points arrive over the run's topic while it is unfinished. */
export function RunOverview({ run }: { run: Run }) {
  const [chartParam, setChartParam] = useUrlState("chart");
  const [settings, setSettings] = useState<ChartSettings>(() => decodeChartSettings(chartParam));
  const names = useMetricNames(run.id, run.state);
  const nameList = useMemo(() => names.data?.names ?? [], [names.data]);
  const live = !isFinished(run.state);
  const data = useRunSeries(run.id, nameList, live);
  useTopic(live ? `run:${run.id}` : null, data.onEvent);

  const progress = progressOf(run);
  const startTime = useMemo(() => {
    let start = Infinity;
    for (const [name, s] of Object.entries(data.series)) {
      if (!isTimeStepped(name) && s.times.length) start = Math.min(start, s.times[0]!);
    }
    return Number.isFinite(start) ? start : null;
  }, [data.series]);
  const context = useMemo<XContext>(
    () => ({
      stepsPerEpoch:
        progress.total_steps && progress.epochs ? progress.total_steps / progress.epochs : null,
      startTime,
    }),
    [progress.total_steps, progress.epochs, startTime],
  );
  const groups = useMemo(() => groupMetrics(nameList), [nameList]);
  // Epochs need the run's steps per epoch (from its progress) or epochs on the points.
  const xModes = useMemo<XMode[]>(() => {
    const epochs =
      context.stepsPerEpoch != null ||
      Object.values(data.series).some((s) => s.epochs.some((e) => e != null));
    return epochs ? ["step", "epoch", "time", "relative"] : ["step", "time", "relative"];
  }, [context.stepsPerEpoch, data.series]);

  const change = (next: ChartSettings) => {
    setSettings(next);
    setChartParam(encodeChartSettings(next));
  };

  if (names.isPending || (nameList.length > 0 && data.isPending)) return <LoadingRows rows={4} />;
  if (names.error && !names.data) return <ErrorState error={names.error} retry={() => names.refetch()} />;
  if (data.error && Object.keys(data.series).length === 0) return <ErrorState error={data.error} retry={data.retry} />;
  if (nameList.length === 0) {
    return (
      <EmptyState
        icon={<LineChartIcon className="size-8" />}
        title="No metrics yet"
        description={
          live
            ? "Charts appear here as soon as the trainer logs its first step."
            : "This run logged no metrics."
        }
      />
    );
  }
  return (
    <div className="flex flex-col gap-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <ChartControls settings={settings} onChange={change} xModes={xModes} />
        <p className="text-xs text-muted-foreground">Drag to zoom · double-click to reset</p>
      </div>
      {groups.map((group) => {
        const single = group.names.filter((name) => isSinglePoint(data.series[name]));
        const charted = group.names.filter((name) => !isSinglePoint(data.series[name]));
        return (
          <section key={group.key} aria-labelledby={`group-${group.key}`} className="flex flex-col gap-2">
            <h2 id={`group-${group.key}`} className="text-sm font-semibold text-muted-foreground">
              {group.title}
            </h2>
            {single.length > 0 && <MetricTiles names={single} series={data.series} />}
            {charted.length > 0 && (
              <div className="grid gap-3 md:grid-cols-2 2xl:grid-cols-3">
                {charted.map((name) => (
                  <MetricChart
                    key={name}
                    runId={run.id}
                    name={name}
                    base={data.series[name]}
                    settings={settings}
                    context={context}
                  />
                ))}
              </div>
            )}
          </section>
        );
      })}
    </div>
  );
}
