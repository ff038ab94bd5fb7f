"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Ban, GitCompare, RotateCcw, Trash2, X } from "lucide-react";
import { useRouter } from "next/navigation";
import { useState, type ReactNode } from "react";
import { toast } from "sonner";
import { AssignGroupMenu } from "@/components/groups/assign-group-menu";
import type { Group } from "@/components/groups/group-dialog";
import { Button } from "@/components/ui/button";
import { MAX_RUNS } from "@/components/compare/use-compare-view";
import { Confirm } from "@/components/ui/confirm";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { isFinished, type Run } from "@/lib/runs";
import { useUi } from "@/lib/store/ui";

/** Requests in flight at once for a bulk action: quick, without flooding the dashboard. */
const CONCURRENCY = 6;

function plural(n: number) {
  return `${n} run${n === 1 ? "" : "s"}`;
}

/** Run `action` on every run, a few at a time; the runs it failed for, with the API's reason. */
async function eachRun(runs: Run[], action: (run: Run) => Promise<unknown>) {
  const failed: { run: Run; message: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const run = runs[next++]!;
      try {
        await action(run);
      } catch (e) {
        failed.push({ run, message: errorMessage(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, runs.length) }, worker));
  return failed;
}

type Action = "cancel" | "requeue" | "delete";

const ACTIONS: Record<
  Action,
  {
    applies: (run: Run) => boolean;
    call: (run: Run) => Promise<unknown>;
    verb: string;
    done: string;
    why: string;
    describe: (n: number) => string;
    destructive: boolean;
  }
> = {
  cancel: {
    applies: (run) => !isFinished(run.state),
    call: (run) => unwrap(api.POST("/runs/{run_id}/cancel", { params: { path: { run_id: run.id } } })),
    verb: "Cancel",
    done: "Canceled",
    why: "finished runs cannot be canceled",
    describe: (n) => `Queued runs are canceled at once; running ones stop within seconds. ${plural(n)} affected.`,
    destructive: true,
  },
  requeue: {
    applies: (run) => isFinished(run.state),
    call: (run) => unwrap(api.POST("/runs/{run_id}/requeue", { params: { path: { run_id: run.id } }, body: {} })),
    verb: "Re-queue",
    done: "Re-queued",
    why: "only finished runs can be re-queued",
    describe: (n) => `Each becomes a new queued run with the same config, trained from scratch. ${plural(n)} affected.`,
    destructive: false,
  },
  delete: {
    applies: (run) => isFinished(run.state),
    call: (run) => unwrap(api.DELETE("/runs/{run_id}", { params: { path: { run_id: run.id } } })),
    verb: "Delete",
    done: "Deleted",
    why: "queued and running runs must be canceled first",
    describe: (n) => `${plural(n)} and their folders (checkpoints, logs, results) are deleted. This cannot be undone.`,
    destructive: true,
  },
};

/** What can be done to the selected runs: compare, group, cancel, re-queue, delete. */
export function BulkActions({
  projectId,
  selected,
  groups,
  onClear,
  onDone,
  editable,
}: {
  /** editors and owners also group, cancel, re-queue and delete; anyone compares */
  editable: boolean;
  projectId: number;
  selected: Run[];
  groups: Group[];
  onClear: () => void;
  /** after an action: the runs that are gone (deleted) leave the selection */
  onDone: (removed: number[]) => void;
}) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const setCompare = useUi((s) => s.setCompare);
  const [pending, setPending] = useState<Action | null>(null);
  const ids = selected.map((r) => r.id);

  const run = async (action: Action) => {
    const spec = ACTIONS[action];
    const targets = selected.filter(spec.applies);
    const failed = await eachRun(targets, spec.call);
    const ok = targets.length - failed.length;
    const skipped = selected.length - targets.length;
    if (ok) toast.success(`${spec.done} ${plural(ok)}${skipped ? ` (${skipped} skipped: ${spec.why})` : ""}`);
    if (failed.length) {
      toast.error(`${spec.verb} failed for ${plural(failed.length)}: ${failed[0]!.message}`);
    }
    await queryClient.invalidateQueries({ queryKey: ["runs", { project: projectId }] });
    const failedIds = new Set(failed.map((f) => f.run.id));
    onDone(action === "delete" ? targets.filter((r) => !failedIds.has(r.id)).map((r) => r.id) : []);
  };

  const confirmFor = (action: Action) => {
    const spec = ACTIONS[action];
    const n = selected.filter(spec.applies).length;
    return (
      <Confirm
        open={pending === action}
        onOpenChange={(open) => setPending(open ? action : null)}
        title={`${spec.verb} ${plural(n)}?`}
        description={
          <>
            {spec.describe(n)}
            {n < selected.length && ` ${selected.length - n} of the selected are skipped: ${spec.why}.`}
          </>
        }
        confirmLabel={`${spec.verb} ${plural(n)}`}
        destructive={spec.destructive}
        onConfirm={() => run(action)}
      />
    );
  };

  const button = (action: Action, icon: ReactNode) => {
    const n = selected.filter(ACTIONS[action].applies).length;
    return (
      <Button
        size="sm"
        variant={action === "delete" ? "destructive" : "outline"}
        disabled={n === 0}
        title={n === 0 ? `None of the selected: ${ACTIONS[action].why}` : undefined}
        onClick={() => setPending(action)}
      >
        {icon} {ACTIONS[action].verb}
        {n !== selected.length && n > 0 ? ` ${n}` : ""}
      </Button>
    );
  };

  const tooMany = selected.length > MAX_RUNS;
  return (
    <div
      role="toolbar"
      aria-label="Selected runs"
      className="flex flex-wrap items-center gap-2 rounded-lg border bg-muted/40 px-3 py-2"
    >
      <span className="text-sm font-medium" aria-live="polite">
        {plural(selected.length)} selected
      </span>
      <Button
        size="sm"
        disabled={selected.length < 2 || tooMany}
        title={tooMany ? `Compare takes ${MAX_RUNS} runs at most` : selected.length < 2 ? "Select 2 runs or more" : undefined}
        onClick={() => {
          setCompare(ids);
          router.push(`/compare/?runs=${ids.join(",")}`);
        }}
      >
        <GitCompare /> Compare
      </Button>
      {editable && (
        <>
          <AssignGroupMenu projectId={projectId} groups={groups} runIds={ids} />
          {button("cancel", <Ban />)}
          {button("requeue", <RotateCcw />)}
          {button("delete", <Trash2 />)}
        </>
      )}
      <Button size="sm" variant="ghost" onClick={onClear}>
        <X /> Clear selection
      </Button>
      {confirmFor("cancel")}
      {confirmFor("requeue")}
      {confirmFor("delete")}
    </div>
  );
}
