"use client";

import { useQueryClient } from "@tanstack/react-query";
import { FolderInput, FolderMinus, Plus } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { projectRunsKey } from "@/components/runs/run-query";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { GroupDialog, type Group } from "./group-dialog";

function plural(n: number) {
  return `${n} run${n === 1 ? "" : "s"}`;
}

/** Move the selected runs into a group (or out of theirs), in one request. */
export function AssignGroupMenu({
  projectId,
  groups,
  runIds,
}: {
  projectId: number;
  groups: Group[];
  runIds: number[];
}) {
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const assign = async (group: Group | null) => {
    try {
      await unwrap(
        api.POST("/projects/{project_id}/runs/group", {
          params: { path: { project_id: projectId } },
          body: { run_ids: runIds, group_id: group?.id ?? null },
        }),
      );
      toast.success(group ? `Moved ${plural(runIds.length)} to ${group.name}` : `Took ${plural(runIds.length)} out of their group`);
      await queryClient.invalidateQueries({ queryKey: projectRunsKey(projectId) });
    } catch (e) {
      toast.error(errorMessage(e));
    }
  };
  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="outline" size="sm">
            <FolderInput /> Move to group
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="start" className="w-60">
          <DropdownMenuLabel>Move {plural(runIds.length)} to</DropdownMenuLabel>
          {groups.map((g) => (
            <DropdownMenuItem key={g.id} onSelect={() => assign(g)}>
              <span className="truncate">{g.name}</span>
            </DropdownMenuItem>
          ))}
          <DropdownMenuItem onSelect={() => setCreating(true)}>
            <Plus /> New group…
          </DropdownMenuItem>
          <DropdownMenuSeparator />
          <DropdownMenuItem onSelect={() => assign(null)}>
            <FolderMinus /> No group
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>
      {creating && (
        <GroupDialog
          projectId={projectId}
          open={creating}
          onOpenChange={setCreating}
          description={`The ${plural(runIds.length)} selected move into the new group.`}
          onSaved={assign}
        />
      )}
    </>
  );
}
