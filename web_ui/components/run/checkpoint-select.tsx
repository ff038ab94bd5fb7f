"use client";

// The checkpoint picker of the model-testing, evaluation and export panels: the run's checkpoint
// names (best and last first, each once), "best" while they load or when none is recorded.
import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { api, unwrap } from "@/lib/api/client";
import { runKeys } from "./queries";

function useCheckpointNames(runId: number): string[] {
  const checkpoints = useQuery({
    queryKey: runKeys.checkpoints(runId),
    queryFn: () =>
      unwrap(
        api.GET("/runs/{run_id}/checkpoints", {
          params: { path: { run_id: runId }, query: { order: "asc", limit: 200 } },
        }),
      ),
  });
  const names = [...new Set((checkpoints.data?.items ?? []).map((c) => c.name))];
  const rank = (name: string) => (name === "best" ? 0 : name === "last" ? 1 : 2);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function CheckpointSelect({
  runId,
  value,
  onChange,
}: {
  runId: number;
  value: string;
  onChange: (name: string) => void;
}) {
  const id = useId();
  const names = useCheckpointNames(runId);
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>Checkpoint</Label>
      <Select value={value} onValueChange={onChange}>
        <SelectTrigger id={id} className="w-36">
          <SelectValue />
        </SelectTrigger>
        <SelectContent>
          {(names.length ? names : ["best"]).map((name) => (
            <SelectItem key={name} value={name}>
              {name}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
    </div>
  );
}
