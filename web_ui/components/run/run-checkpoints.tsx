"use client";

import { useQuery } from "@tanstack/react-query";
import { Save } from "lucide-react";
import { Card } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { Badge } from "@/components/ui/badge";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { formatDate, formatMetric, timeAgo } from "@/lib/utils";
import { runKeys } from "./queries";
import { RunExport } from "./run-export";

type Run = Schemas["RunDetail"];

/** The run's checkpoint folders (best, last, epoch_NNN) in training order; `editable` (editors,
 *  owners) adds building an export archive. */
export function RunCheckpoints({ run, editable }: { run: Run; editable: boolean }) {
  const checkpoints = useQuery({
    queryKey: runKeys.checkpoints(run.id),
    queryFn: () =>
      unwrap(
        api.GET("/runs/{run_id}/checkpoints", {
          params: { path: { run_id: run.id }, query: { order: "asc", limit: 200 } },
        }),
      ),
  });
  if (checkpoints.isPending) return <LoadingRows rows={3} />;
  if (checkpoints.error && !checkpoints.data) return <ErrorState error={checkpoints.error} retry={() => checkpoints.refetch()} />;
  const items = checkpoints.data.items;
  if (items.length === 0) {
    return (
      <EmptyState
        icon={<Save className="size-8" />}
        title="No checkpoints yet"
        description="The trainer writes one at the end of each epoch (last) and when the monitored metric improves (best)."
      />
    );
  }
  const monitor = run.summary.monitor?.name;
  return (
    <div className="flex flex-col gap-4">
      {editable && <RunExport runId={run.id} />}
      <Card className="overflow-x-auto">
        <table className="w-full text-sm">
          <caption className="sr-only">Checkpoints of {run.name}</caption>
          <thead className="border-b text-left text-xs text-muted-foreground">
            <tr>
              <th scope="col" className="px-4 py-2 font-medium">Name</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Epoch</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Step</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">{monitor ?? "Metric"}</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Attempt</th>
              <th scope="col" className="px-4 py-2 font-medium">Path</th>
              <th scope="col" className="px-4 py-2 font-medium">Written</th>
            </tr>
          </thead>
          <tbody className="divide-y">
            {items.map((c) => (
              <tr key={c.id}>
                <td className="px-4 py-2 font-medium">
                  {c.name}
                  {c.name === "best" && (
                    <Badge variant="success" className="ml-2">
                      best
                    </Badge>
                  )}
                </td>
                <td className="px-4 py-2 text-right tabular-nums">{c.epoch ?? "—"}</td>
                <td className="px-4 py-2 text-right tabular-nums">{c.step.toLocaleString()}</td>
                <td className="px-4 py-2 text-right tabular-nums">{formatMetric(c.metric)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{c.attempt}</td>
                <td className="px-4 py-2 font-mono text-xs">{c.path}</td>
                <td className="px-4 py-2 text-muted-foreground" title={formatDate(c.created_at)}>
                  {timeAgo(c.created_at)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
