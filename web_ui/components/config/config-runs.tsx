"use client";

// The runs queued from a config (any version), newest first, live: a run that starts, ends or
// stops waiting updates here without a reload. A queued run says why it waits.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Play } from "lucide-react";
import Link from "next/link";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useTopic } from "@/lib/live/hooks";
import { formatDate, timeAgo } from "@/lib/utils";
import { WaitingFor } from "./waiting-for";

const LIMIT = 50;

export function configRunsKey(configId: number) {
  return ["runs", { config_id: configId }] as const;
}

/** The config's runs; `onQueue` (absent for viewers) offers queueing one when there is none. */
export function ConfigRuns({ configId, onQueue }: { configId: number; onQueue?: () => void }) {
  const queryClient = useQueryClient();
  const runs = useQuery({
    queryKey: configRunsKey(configId),
    queryFn: () => unwrap(api.GET("/runs", { params: { query: { config_id: configId, limit: LIMIT } } })),
  });
  // A run's state changes, and an agent coming or going changes why queued runs wait.
  const refresh = () => queryClient.invalidateQueries({ queryKey: configRunsKey(configId) });
  useTopic("runs", refresh);
  useTopic("agents", refresh);

  if (runs.isPending) return <LoadingRows rows={4} />;
  if (runs.error && !runs.data) return <ErrorState error={runs.error} retry={() => runs.refetch()} />;
  if (runs.data.items.length === 0) {
    return (
      <EmptyState
        title="No runs of this config yet"
        description="Queue a run: an agent trains it with the version you pick, and it shows up here."
        action={
          onQueue && (
            <Button onClick={onQueue}>
              <Play /> Queue run
            </Button>
          )
        }
      />
    );
  }
  return (
    <div className="flex flex-col gap-2">
      <p className="text-sm text-muted-foreground">
        {runs.data.total} {runs.data.total === 1 ? "run" : "runs"}
        {runs.data.total > LIMIT && ` (the newest ${LIMIT} shown)`}
      </p>
      <Card>
        <ul className="divide-y" aria-label="Runs of this config">
          {runs.data.items.map((run) => (
            <li key={run.id} className="flex flex-col gap-1 px-4 py-2.5 text-sm">
              <div className="flex flex-wrap items-center gap-3">
                <RunStateBadge state={run.state} />
                <Link href={`/run/?id=${run.id}`} className="font-medium hover:underline">
                  {run.name}
                </Link>
                {run.config_version != null && <Badge variant="outline">v{run.config_version}</Badge>}
                {run.tags.map((t) => (
                  <Badge key={t} variant="secondary">
                    {t}
                  </Badge>
                ))}
                <span className="ml-auto text-muted-foreground" title={formatDate(run.created_at)}>
                  queued {timeAgo(run.created_at)}
                </span>
              </div>
              {run.state === "queued" && <WaitingFor reason={run.waiting_for} />}
            </li>
          ))}
        </ul>
      </Card>
    </div>
  );
}
