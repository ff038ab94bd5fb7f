"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useState } from "react";
import { RunActions } from "@/components/run/run-actions";
import { RunCheckpoints } from "@/components/run/run-checkpoints";
import { RunConfig } from "@/components/run/run-config";
import { RunFacts } from "@/components/run/run-header";
import { RunLogs } from "@/components/run/run-logs";
import { RunOverview } from "@/components/run/run-overview";
import { RunResults } from "@/components/run/run-results";
import { RunTensorBoard } from "@/components/run/run-tensorboard";
import { RunEvaluation } from "@/components/run/run-evaluation";
import { RunModelTesting } from "@/components/run/run-model-testing";
import { refreshRun, useRun } from "@/components/run/queries";
import { usePrefetchOverview } from "@/components/run/use-run-series";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { ApiError, type Schemas } from "@/lib/api/client";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { useTopic } from "@/lib/live/hooks";
import type { LiveEvent } from "@/lib/live/socket";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { idParam, keys, useProject } from "@/lib/queries";
import { isFinished } from "@/lib/runs";
import { useUi } from "@/lib/store/ui";

type Run = Schemas["RunDetail"];

const TABS = ["overview", "logs", "results", "evaluation", "config", "checkpoints", "tensorboard", "testing"] as const;
type Tab = (typeof TABS)[number];

/** Keep the run current: progress from its own topic, state changes from the runs feed. */
function useLiveRun(run: Run | undefined) {
  const queryClient = useQueryClient();
  const id = run?.id ?? 0;
  const live = run != null && !isFinished(run.state);
  const onRunEvent = useCallback(
    (event: LiveEvent) => {
      const kind = event.data.kind;
      if (kind === "progress") {
        const payload = event.data.payload as Record<string, unknown> | undefined;
        queryClient.setQueryData<Run>(keys.run(id), (current) =>
          current && payload ? { ...current, progress: { ...payload } } : current,
        );
      } else if (kind === "state" || kind === "checkpoint" || kind === "artifact") {
        refreshRun(queryClient, id);
      }
    },
    [queryClient, id],
  );
  useTopic(live ? `run:${id}` : null, onRunEvent);
  const onFeed = useCallback(
    (event: LiveEvent) => {
      if (event.data.run_id === id) refreshRun(queryClient, id);
    },
    [queryClient, id],
  );
  useTopic(run ? "runs" : null, onFeed);
}

function RunPageInner() {
  const params = useSearchParams();
  const id = idParam(params.get("id"));
  const run = useRun(id);
  const project = useProject(run.data?.project_id ?? null);
  const { can } = useProjectRole(run.data?.project_id);
  const setProjectId = useUi((s) => s.setProjectId);
  const [tabParam, setTabParam] = useUrlState("tab");
  const [tab, setTab] = useState<Tab>(
    TABS.includes(tabParam as Tab) ? (tabParam as Tab) : "overview",
  );
  useLiveRun(run.data);
  usePrefetchOverview(id, tab === "overview");
  useEffect(() => {
    if (run.data) setProjectId(run.data.project_id);
  }, [run.data, setProjectId]);

  if (id == null) {
    return (
      <PageBody>
        <EmptyState title="No run given" description="Open a run from a project's runs table." />
      </PageBody>
    );
  }
  if (run.isPending) {
    return (
      <>
        <PageHeader title={`Run ${id}`} />
        <PageBody>
          <LoadingRows rows={6} />
        </PageBody>
      </>
    );
  }
  // A failed refresh keeps the run on screen (the live banner says the dashboard is away);
  // only a run that is gone, or was never loaded, gives way to the message.
  const gone = run.error instanceof ApiError && run.error.status === 404;
  if (run.error && (!run.data || gone)) {
    return (
      <>
        <PageHeader title={`Run ${id}`} />
        <PageBody>
          {run.error instanceof ApiError && run.error.status === 404 ? (
            <EmptyState title={`Run ${id} does not exist`} description="It may have been deleted." />
          ) : (
            <ErrorState error={run.error} retry={() => run.refetch()} />
          )}
        </PageBody>
      </>
    );
  }
  const r = run.data;
  return (
    <>
      <PageHeader
        crumbs={[
          { label: "Projects", href: "/projects/" },
          { label: project.data?.name ?? `Project ${r.project_id}`, href: `/project/?id=${r.project_id}` },
          { label: r.name },
        ]}
        title={
          <span className="flex items-center gap-3">
            <span className="truncate">{r.name}</span>
            <RunStateBadge state={r.state} />
            <span className="text-sm font-normal text-muted-foreground">#{r.id}</span>
          </span>
        }
        actions={<RunActions run={r} />}
      />
      <PageBody>
        <RunFacts run={r} fetchedAt={run.dataUpdatedAt} />
        <Tabs
          value={tab}
          onValueChange={(value) => {
            setTab(value as Tab);
            setTabParam(value === "overview" ? null : value);
          }}
        >
          <TabsList className="flex-wrap">
            <TabsTrigger value="overview">Overview</TabsTrigger>
            <TabsTrigger value="logs">Logs</TabsTrigger>
            <TabsTrigger value="results">Results</TabsTrigger>
            <TabsTrigger value="evaluation">Evaluation</TabsTrigger>
            <TabsTrigger value="config">Config</TabsTrigger>
            <TabsTrigger value="checkpoints">Checkpoints</TabsTrigger>
            <TabsTrigger value="tensorboard">TensorBoard</TabsTrigger>
            <TabsTrigger value="testing">Model testing</TabsTrigger>
          </TabsList>
          <TabsContent value="overview">
            <RunOverview run={r} />
          </TabsContent>
          <TabsContent value="logs">
            <RunLogs run={r} />
          </TabsContent>
          <TabsContent value="results">
            <RunResults run={r} />
          </TabsContent>
          <TabsContent value="evaluation">
            <RunEvaluation runId={r.id} editable={can.edit} />
          </TabsContent>
          <TabsContent value="config">
            <RunConfig run={r} />
          </TabsContent>
          <TabsContent value="checkpoints">
            <RunCheckpoints run={r} editable={can.edit} />
          </TabsContent>
          <TabsContent value="tensorboard">
            <RunTensorBoard runId={r.id} runName={r.name} live={!isFinished(r.state)} />
          </TabsContent>
          <TabsContent value="testing">
            <RunModelTesting runId={r.id} />
          </TabsContent>
        </Tabs>
      </PageBody>
    </>
  );
}

export default function RunPage() {
  return (
    <Suspense>
      <RunPageInner />
    </Suspense>
  );
}
