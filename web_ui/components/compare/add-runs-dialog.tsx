"use client";

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Switch } from "@/components/ui/switch";
import { ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useProject } from "@/lib/queries";
import { useUi } from "@/lib/store/ui";
import { formatMetric, timeAgo } from "@/lib/utils";
import { MAX_RUNS } from "./use-compare-view";

/** Find runs by name (in the sidebar's project, or everywhere) and tick them into the
 *  comparison; each tick applies at once, so the dialog doubles as a quick remover. */
export function AddRunsDialog({
  open,
  onOpenChange,
  picked,
  onToggle,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  picked: number[];
  onToggle: (runId: number) => void;
}) {
  const projectId = useUi((s) => s.projectId);
  const project = useProject(projectId);
  const [q, setQ] = useState("");
  const [everywhere, setEverywhere] = useState(projectId == null);
  const scope = everywhere || projectId == null ? undefined : projectId;
  const runs = useQuery({
    queryKey: ["runs", { q, project: scope ?? null, picker: true }],
    queryFn: () =>
      unwrap(
        api.GET("/runs", {
          params: { query: { q: q || undefined, project_id: scope, limit: 50, order: "desc" } },
        }),
      ),
    enabled: open,
    placeholderData: (previous) => previous,
  });
  const full = picked.length >= MAX_RUNS;
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent className="max-w-2xl">
        <DialogHeader>
          <DialogTitle>Add runs</DialogTitle>
          <DialogDescription>
            Tick runs to compare them (up to {MAX_RUNS}). Newest first; search by name.
          </DialogDescription>
        </DialogHeader>
        <div className="flex flex-wrap items-center gap-3">
          <Input
            type="search"
            aria-label="Search runs by name"
            placeholder="Search runs by name"
            className="max-w-xs"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            autoFocus
          />
          {projectId != null && (
            <div className="flex items-center gap-2">
              <Switch id="picker-everywhere" checked={everywhere} onCheckedChange={setEverywhere} />
              <Label htmlFor="picker-everywhere" className="font-normal">
                All projects{!everywhere && project.data ? ` (now: ${project.data.name})` : ""}
              </Label>
            </div>
          )}
        </div>
        {full && (
          <p className="text-sm text-muted-foreground" role="status">
            {MAX_RUNS} runs is the most one comparison shows: untick one to add another.
          </p>
        )}
        <div className="max-h-[45vh] min-h-40 overflow-y-auto rounded-md border">
          {runs.isPending ? (
            <LoadingRows rows={4} className="p-2" />
          ) : runs.error && !runs.data ? (
            <div className="p-2">
              <ErrorState error={runs.error} retry={() => runs.refetch()} />
            </div>
          ) : runs.data.items.length === 0 ? (
            <p className="p-6 text-center text-sm text-muted-foreground">
              {q ? `No run name contains “${q}”.` : "No runs yet: queue one from a config."}
            </p>
          ) : (
            <ul className="divide-y">
              {runs.data.items.map((run) => {
                const checked = picked.includes(run.id);
                const id = `pick-run-${run.id}`;
                return (
                  <li key={run.id} className="flex items-center gap-3 px-3 py-2 hover:bg-muted/40">
                    <Checkbox
                      id={id}
                      checked={checked}
                      disabled={!checked && full}
                      onCheckedChange={() => onToggle(run.id)}
                    />
                    <Label htmlFor={id} className="min-w-0 flex-1 cursor-pointer font-normal">
                      <span className="block truncate font-medium">{run.name}</span>
                      <span className="block truncate text-xs text-muted-foreground">
                        #{run.id} · {timeAgo(run.created_at)} · {run.summary.monitor.name}{" "}
                        {formatMetric(run.summary.monitor.best)}
                      </span>
                    </Label>
                    <RunStateBadge state={run.state} />
                  </li>
                );
              })}
            </ul>
          )}
        </div>
        <DialogFooter>
          <Button onClick={() => onOpenChange(false)}>Done</Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
