"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Check, FolderTree, Pencil, Plus, Trash2 } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
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
import { keys } from "@/lib/queries";
import { GroupDialog, type Group } from "./group-dialog";

/** The table's group filter, and where groups are made, renamed and deleted. */
export function GroupFilter({
  projectId,
  groups,
  groupId,
  onGroup,
  editable,
}: {
  projectId: number;
  groups: Group[];
  groupId: number | null;
  onGroup: (id: number | null) => void;
  /** editors and owners also create, rename and delete groups */
  editable: boolean;
}) {
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<Group | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const current = groups.find((g) => g.id === groupId);
  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="outline" className="max-w-64">
            <FolderTree /> <span className="truncate">Group: {current ? current.name : "all"}</span>
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="start" className="w-64">
          <DropdownMenuLabel>Show runs of</DropdownMenuLabel>
          <DropdownMenuItem onSelect={() => onGroup(null)}>
            <Check className={groupId === null ? "" : "invisible"} /> All groups
          </DropdownMenuItem>
          {groups.map((g) => (
            <DropdownMenuItem key={g.id} onSelect={() => onGroup(g.id)} title={g.description || undefined}>
              <Check className={groupId === g.id ? "" : "invisible"} /> <span className="truncate">{g.name}</span>
            </DropdownMenuItem>
          ))}
          {editable && <DropdownMenuSeparator />}
          {editable && (
            <DropdownMenuItem onSelect={() => setCreating(true)}>
              <Plus /> New group…
            </DropdownMenuItem>
          )}
          {editable && current && (
            <>
              <DropdownMenuItem onSelect={() => setRenaming(current)}>
                <Pencil /> Rename {current.name}…
              </DropdownMenuItem>
              <DropdownMenuItem destructive onSelect={() => setDeleting(current)}>
                <Trash2 /> Delete {current.name}…
              </DropdownMenuItem>
            </>
          )}
        </DropdownMenuContent>
      </DropdownMenu>
      {creating && (
        <GroupDialog projectId={projectId} open={creating} onOpenChange={setCreating} onSaved={(g) => onGroup(g.id)} />
      )}
      {renaming && (
        <GroupDialog
          projectId={projectId}
          group={renaming}
          open
          onOpenChange={(open) => !open && setRenaming(null)}
        />
      )}
      <Confirm
        open={deleting !== null}
        onOpenChange={(open) => !open && setDeleting(null)}
        title={`Delete group ${deleting?.name ?? ""}?`}
        description="Its runs stay in the project, in no group. This cannot be undone."
        confirmLabel="Delete group"
        onConfirm={async () => {
          if (!deleting) return;
          try {
            await unwrap(api.DELETE("/groups/{group_id}", { params: { path: { group_id: deleting.id } } }));
            toast.success(`Deleted group ${deleting.name}`);
            if (groupId === deleting.id) onGroup(null);
            await queryClient.invalidateQueries({ queryKey: keys.groups(projectId) });
            await queryClient.invalidateQueries({ queryKey: projectRunsKey(projectId) });
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </>
  );
}
