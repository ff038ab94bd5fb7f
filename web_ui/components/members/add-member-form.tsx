"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { UserPlus } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import type { ProjectRole } from "@/lib/hooks/use-project-role";
import { keys } from "@/lib/queries";
import { RoleSelect } from "./role-select";

/** An owner adds a user by name (or changes the role of one already a member). */
export function AddMemberForm({ projectId }: { projectId: number }) {
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<ProjectRole>("viewer");
  const add = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/projects/{project_id}/members", {
          params: { path: { project_id: projectId } },
          body: { username: username.trim(), role },
        }),
      ),
    onSuccess: (member) => {
      toast.success(`${member.username} is now ${member.role === "viewer" ? "a" : "an"} ${member.role}`);
      setUsername("");
      queryClient.invalidateQueries({ queryKey: keys.members(projectId) });
    },
  });
  return (
    <form
      className="flex flex-col gap-1.5"
      aria-label="Add a member"
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <div className="flex flex-wrap items-end gap-3">
        <div className="flex min-w-48 flex-1 flex-col gap-1.5">
          <Label htmlFor="member-username">Username</Label>
          <Input
            id="member-username"
            value={username}
            onChange={(e) => {
              setUsername(e.target.value);
              add.reset();
            }}
            autoComplete="off"
            placeholder="a user's login name"
            aria-invalid={add.isError || undefined}
            aria-describedby={add.isError ? "member-error" : undefined}
            required
          />
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="member-role">Role</Label>
          <RoleSelect id="member-role" value={role} onChange={setRole} />
        </div>
        <Button type="submit" disabled={add.isPending || !username.trim()}>
          <UserPlus /> Add member
        </Button>
      </div>
      {/* Reserved height: the message appearing does not push the list down. */}
      <p id="member-error" role="alert" className="min-h-5 text-sm text-destructive">
        {add.isError ? errorMessage(add.error) : ""}
      </p>
    </form>
  );
}
