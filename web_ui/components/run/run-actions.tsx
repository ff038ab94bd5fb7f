"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Ban, Play, RotateCcw, Trash2 } from "lucide-react";
import { useRouter } from "next/navigation";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { keys } from "@/lib/queries";
import { isFinished } from "@/lib/runs";

type Run = Schemas["RunDetail"];

/** Cancel (queued/running), resume (failed/canceled: same run, from its checkpoint), re-queue
 *  (finished: a new run from scratch), delete (finished). Editors and owners only. */
export function RunActions({ run }: { run: Run }) {
  const queryClient = useQueryClient();
  const router = useRouter();
  const { can } = useProjectRole(run.project_id);
  const finished = isFinished(run.state);
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: keys.run(run.id) });
    queryClient.invalidateQueries({ queryKey: ["runs"] });
  };
  const path = { params: { path: { run_id: run.id } } };

  if (!can.edit) return null;
  return (
    <>
      {!finished && (
        <Confirm
          trigger={
            <Button variant="outline" disabled={run.cancel_requested}>
              <Ban /> {run.cancel_requested ? "Cancel requested" : "Cancel"}
            </Button>
          }
          title={`Cancel ${run.name}?`}
          description={
            run.state === "queued"
              ? "It leaves the queue and will not start."
              : "Its agent stops training within a few seconds. Checkpoints written so far are kept, so you can resume it later."
          }
          confirmLabel="Cancel run"
          onConfirm={async () => {
            try {
              await unwrap(api.POST("/runs/{run_id}/cancel", path));
              toast.success(run.state === "queued" ? `Canceled ${run.name}` : `Cancel requested for ${run.name}`);
              refresh();
            } catch (e) {
              toast.error(errorMessage(e));
            }
          }}
        />
      )}
      {(run.state === "failed" || run.state === "canceled") && (
        <Confirm
          trigger={
            <Button variant="outline">
              <Play /> Resume
            </Button>
          }
          destructive={false}
          title={`Resume ${run.name}?`}
          description="The same run is queued again as its next attempt and continues from its newest valid checkpoint. Its current error is cleared."
          confirmLabel="Resume run"
          onConfirm={async () => {
            try {
              await unwrap(api.POST("/runs/{run_id}/resume", path));
              toast.success(`${run.name} is queued to resume`);
              refresh();
            } catch (e) {
              toast.error(errorMessage(e));
            }
          }}
        />
      )}
      {finished && (
        <Confirm
          trigger={
            <Button variant="outline">
              <RotateCcw /> Re-queue
            </Button>
          }
          destructive={false}
          title={`Re-queue ${run.name}?`}
          description="A new run with the same config is queued and trained from scratch, in a folder of its own. This run stays as it is."
          confirmLabel="Queue a new run"
          onConfirm={async () => {
            try {
              const created = await unwrap(api.POST("/runs/{run_id}/requeue", { ...path, body: null }));
              toast.success(`Queued ${created.name}`, {
                action: { label: "Open", onClick: () => router.push(`/run/?id=${created.id}`) },
              });
              refresh();
            } catch (e) {
              toast.error(errorMessage(e));
            }
          }}
        />
      )}
      {finished && (
        <Confirm
          trigger={
            <Button variant="outline" className="text-destructive">
              <Trash2 /> Delete
            </Button>
          }
          title={`Delete ${run.name}?`}
          description="The run, its metrics, logs and checkpoints, and its folder on disk are deleted. This cannot be undone."
          confirmLabel="Delete run"
          onConfirm={async () => {
            try {
              await unwrap(api.DELETE("/runs/{run_id}", path));
              toast.success(`Deleted ${run.name}`);
              queryClient.invalidateQueries({ queryKey: ["runs"] });
              queryClient.removeQueries({ queryKey: keys.run(run.id) });
              router.push(`/project/?id=${run.project_id}`);
            } catch (e) {
              toast.error(errorMessage(e));
            }
          }}
        />
      )}
    </>
  );
}
