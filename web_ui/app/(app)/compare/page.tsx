"use client";

import { ExternalLink, GitCompare, Link2, Plus } from "lucide-react";
import { Suspense, useEffect, useRef, useState } from "react";
import { toast } from "sonner";
import { ChartControls, type ChartSettings } from "@/components/charts";
import { AddRunsDialog } from "@/components/compare/add-runs-dialog";
import { CompareCharts, chartXMode } from "@/components/compare/compare-charts";
import { ConfigDiff } from "@/components/compare/config-diff";
import { ReportTable } from "@/components/compare/report-table";
import { MetricChooser } from "@/components/compare/metric-chooser";
import { MetricsTable } from "@/components/compare/metrics-table";
import { RunChips } from "@/components/compare/run-chips";
import { MAX_RUNS, NO_METRICS, useCompareView } from "@/components/compare/use-compare-view";
import { useComparison } from "@/components/compare/use-comparison";
import { tensorboardUrl } from "@/components/run/run-tensorboard";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { Switch } from "@/components/ui/switch";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { useUi } from "@/lib/store/ui";

function Compare() {
  const [view, update] = useCompareView();
  const picked = useUi((s) => s.compare);
  const setPicked = useUi((s) => s.setCompare);
  const [adding, setAdding] = useState(false);
  const [hovered, setHovered] = useState<number | null>(null);
  const data = useComparison(view);

  // The URL is the source of truth, kept in step with the pick the rest of the app adds to
  // (the runs table's selection, the palette): a bare /compare/ opens that pick, a change made
  // elsewhere while this page is open shows here, and a change made here is the new pick.
  const synced = useRef<{ url: string; pick: string } | null>(null);
  const urlRuns = view.runs.join(",");
  const pickRuns = picked.join(",");
  useEffect(() => {
    const last = synced.current;
    synced.current = { url: urlRuns, pick: pickRuns };
    if (urlRuns === pickRuns) return;
    const fromPick = last === null ? urlRuns === "" : last.pick !== pickRuns && last.url === urlRuns;
    if (fromPick) update({ runs: picked.slice(0, MAX_RUNS).join(",") || null });
    else setPicked(view.runs);
  }, [urlRuns, pickRuns, picked, view.runs, setPicked, update]);

  const setRuns = (runs: number[]) => {
    const baselineGone = view.baseline != null && !runs.includes(view.baseline);
    update({ runs: runs.join(",") || null, ...(baselineGone ? { baseline: null, delta: null } : {}) });
  };
  const toggle = (id: number) =>
    setRuns(view.runs.includes(id) ? view.runs.filter((r) => r !== id) : [...view.runs, id].slice(0, MAX_RUNS));
  const setMetrics = (metrics: string[]) => update({ metrics: metrics.length ? metrics.join(",") : NO_METRICS });
  const setChart = (s: ChartSettings) =>
    update({
      x: s.xMode === "relative" ? "time" : s.xMode === "step" ? null : s.xMode,
      logy: s.logY ? "1" : null,
      smooth: s.smoothing > 0 ? String(s.smoothing) : null,
      clip: s.clipOutliers ? "1" : null,
    });
  const readableRuns = data.runs.filter((r) => r.detail);
  const names = data.logged ? [...data.logged] : null;

  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      toast.success("Link copied: it opens this comparison as you see it");
    } catch {
      toast.error("The browser did not allow copying; copy the address bar instead");
    }
  };

  return (
    <>
      <PageHeader
        title="Compare runs"
        description="Curves overlaid, metrics side by side, and how the configs differ."
        actions={
          <>
            {data.readable.length >= 2 && (
              <Button variant="outline" asChild>
                <a href={tensorboardUrl(data.readable)} target="_blank" rel="noopener">
                  <ExternalLink /> TensorBoard
                </a>
              </Button>
            )}
            {view.runs.length > 0 && (
              <Button variant="outline" onClick={copyLink}>
                <Link2 /> Copy link
              </Button>
            )}
            <Button onClick={() => setAdding(true)}>
              <Plus /> Add runs
            </Button>
          </>
        }
      />
      <PageBody>
        {view.runs.length === 0 ? (
          <EmptyState
            icon={<GitCompare className="size-8" />}
            title="Pick runs to compare"
            description={
              <>
                Tick runs in a project’s runs table and choose Compare, or add them here by name. Up to{" "}
                {MAX_RUNS} runs; the address of this page then names them, so a comparison can be shared.
              </>
            }
            action={
              <Button onClick={() => setAdding(true)}>
                <Plus /> Add runs
              </Button>
            }
          />
        ) : (
          <>
            <RunChips
              runs={data.runs}
              baseline={view.baseline}
              hovered={hovered}
              onHover={setHovered}
              onRemove={(id) => setRuns(view.runs.filter((r) => r !== id))}
            />
            {data.runsPending ? (
              <LoadingRows rows={3} />
            ) : readableRuns.length < 2 ? (
              <EmptyState
                title="Add at least one more run"
                description="A comparison needs two runs or more that can be read."
                action={
                  <Button onClick={() => setAdding(true)}>
                    <Plus /> Add runs
                  </Button>
                }
              />
            ) : (
              <>
                <div className="flex flex-wrap items-center gap-x-5 gap-y-2">
                  <MetricChooser
                    available={names}
                    chosen={data.metrics}
                    isDefault={view.metrics === null}
                    onChange={setMetrics}
                    onReset={() => update({ metrics: null })}
                  />
                  <ChartControls
                    settings={{
                      xMode: chartXMode(view.x),
                      logY: view.logY,
                      smoothing: view.smoothing,
                      clipOutliers: view.clipOutliers,
                    }}
                    onChange={setChart}
                    xModes={["step", "epoch", "relative"]}
                  />
                  {view.baseline != null && (
                    <div className="flex items-center gap-2 text-sm">
                      <Switch
                        id="compare-delta"
                        checked={view.delta}
                        onCheckedChange={(on) => update({ delta: on ? "1" : null })}
                      />
                      <Label htmlFor="compare-delta">Difference to baseline</Label>
                    </div>
                  )}
                </div>
                {data.metrics.length === 0 ? (
                  <p className="text-sm text-muted-foreground">No metric chosen: pick some under Metrics.</p>
                ) : (
                  <CompareCharts
                    charts={data.charts}
                    runs={readableRuns}
                    view={view}
                    hovered={hovered}
                    onHover={setHovered}
                  />
                )}
                {data.table.error ? (
                  <ErrorState error={data.table.error} retry={() => data.table.refetch()} />
                ) : !data.table.data ? (
                  <LoadingRows rows={readableRuns.length} />
                ) : (
                  <>
                    <section aria-labelledby="metrics-table-title" className="flex flex-col gap-2">
                      <div>
                        <h2 id="metrics-table-title" className="text-base font-semibold">
                          Metrics
                        </h2>
                        <p className="text-sm text-muted-foreground">
                          The best value of each column is highlighted.{" "}
                          {view.baseline == null
                            ? "Pin a run as the baseline to see every other run’s difference to it."
                            : "Differences are to the pinned baseline."}
                        </p>
                      </div>
                      <MetricsTable
                        runs={readableRuns}
                        metrics={data.metrics}
                        table={data.table.data}
                        charts={data.charts}
                        baseline={view.baseline}
                        hovered={hovered}
                        onHover={setHovered}
                        onPin={(id) => update({ baseline: id == null ? null : String(id), ...(id == null ? { delta: null } : {}) })}
                      />
                    </section>
                    <ReportTable runs={readableRuns} />
                    <ConfigDiff
                      runs={readableRuns}
                      config={data.table.data.config}
                      baseline={view.baseline}
                      showAll={view.allConfig}
                      onShowAll={(all) => update({ config: all ? "all" : null })}
                    />
                  </>
                )}
              </>
            )}
          </>
        )}
      </PageBody>
      {adding && <AddRunsDialog open={adding} onOpenChange={setAdding} picked={view.runs} onToggle={toggle} />}
    </>
  );
}

export default function ComparePage() {
  return (
    <Suspense>
      <Compare />
    </Suspense>
  );
}
