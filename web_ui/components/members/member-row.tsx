"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { UserRound } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import type { ProjectRole } from "@/lib/hooks/use-project-role";
import { keys } from "@/lib/queries";
import { timeAgo } from "@/lib/utils";
import { RoleSelect } from "./role-select";

type Member = Schemas["MemberOut"];

/** One member: an owner changes the role or removes them; anyone else reads it. The API's
 *  refusals (the last owner cannot go) are shown on the row, where the change was tried. */
export function MemberRow({
  projectId,
  member,
  isSelf,
  canManage,
}: {
  projectId: number;
  member: Member;
  isSelf: boolean;
  canManage: boolean;
}) {
  const queryClient = useQueryClient();
  const [removing, setRemoving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: keys.members(projectId) });
    // one's own role may have changed: what the pages offer follows it
    if (isSelf) queryClient.invalidateQueries({ queryKey: keys.project(projectId) });
  };
  const changeRole = useMutation({
    mutationFn: (role: ProjectRole) =>
      unwrap(
        api.PUT("/projects/{project_id}/members", {
          params: { path: { project_id: projectId } },
          body: { username: member.username, role },
        }),
      ),
    onMutate: () => setError(null),
    onSuccess: (updated) => {
      toast.success(`${updated.username} is now ${updated.role === "viewer" ? "a" : "an"} ${updated.role}`);
      refresh();
    },
    onError: (e) => setError(errorMessage(e)),
  });
  const errorId = `member-${member.user_id}-error`;
  return (
    <li className="flex flex-col gap-1 px-4 py-3">
      <div className="flex flex-wrap items-center gap-3">
        <UserRound className="size-5 shrink-0 text-muted-foreground" aria-hidden />
        <div className="min-w-0 flex-1">
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-medium">{member.username}</span>
            {isSelf && <Badge variant="outline">you</Badge>}
          </div>
          <p className="text-sm text-muted-foreground" title={member.created_at}>
            member since {timeAgo(member.created_at)}
          </p>
        </div>
        {canManage ? (
          <>
            <RoleSelect
              label={`Role of ${member.username}`}
              value={member.role}
              disabled={changeRole.isPending}
              onChange={(role) => role !== member.role && changeRole.mutate(role)}
            />
            <Button
              variant="outline"
              size="sm"
              className="text-destructive"
              aria-label={`Remove ${member.username}`}
              onClick={() => setRemoving(true)}
            >
              Remove
            </Button>
          </>
        ) : (
          <Badge variant={member.role === "owner" ? "default" : "secondary"}>{member.role}</Badge>
        )}
      </div>
      {error && (
        <p id={errorId} role="alert" className="pl-8 text-sm text-destructive">
          {error}
        </p>
      )}
      <Confirm
        open={removing}
        onOpenChange={setRemoving}
        title={isSelf ? "Leave this project?" : `Remove ${member.username}?`}
        description={
          isSelf
            ? "You lose access to the project at once; an owner can add you again."
            : `${member.username} can no longer see or change this project. Their runs and configs stay.`
        }
        confirmLabel={isSelf ? "Leave project" : "Remove member"}
        onConfirm={async () => {
          setError(null);
          try {
            await unwrap(
              api.DELETE("/projects/{project_id}/members/{user_id}", {
                params: { path: { project_id: projectId, user_id: member.user_id } },
              }),
            );
            toast.success(isSelf ? "You left the project" : `Removed ${member.username}`);
            refresh();
          } catch (e) {
            setError(errorMessage(e));
          }
        }}
      />
    </li>
  );
}
