"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { Input, Textarea } from "@/components/ui/input";
import { api, ApiError, unwrap, type Schemas } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";
import { keys } from "@/lib/queries";

export type Group = Schemas["GroupOut"];

/** Create or rename an experiment group; the API's errors (a name taken) on the field. */
export function GroupDialog({
  projectId,
  group,
  open,
  onOpenChange,
  onSaved,
  description = "A group gathers runs of one experiment: a sweep, an ablation, a baseline.",
}: {
  projectId: number;
  group?: Group;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onSaved?: (group: Group) => void | Promise<void>;
  description?: string;
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(group?.name ?? "");
  const [text, setText] = useState(group?.description ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const save = useMutation({
    mutationFn: () =>
      group
        ? unwrap(
            api.PATCH("/groups/{group_id}", {
              params: { path: { group_id: group.id } },
              body: { name, description: text },
            }),
          )
        : unwrap(
            api.POST("/projects/{project_id}/groups", {
              params: { path: { project_id: projectId } },
              body: { name, description: text },
            }),
          ),
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: keys.groups(projectId) });
      toast.success(group ? `Group renamed to ${saved.name}` : `Group ${saved.name} created`);
      await onSaved?.(saved);
      onOpenChange(false);
    },
    onError: (e) => setError(asApiError(e)),
  });
  // A name taken (409) names no field: its message belongs on the name too.
  const nameError = fieldError(error, "name") ?? formError(error, ["name"]);
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            save.mutate();
          }}
        >
          <DialogHeader>
            <DialogTitle>{group ? `Rename group ${group.name}` : "New group"}</DialogTitle>
            <DialogDescription>{description}</DialogDescription>
          </DialogHeader>
          <Field id="group-name" label="Group name" error={nameError}>
            {(control) => (
              <Input {...control} value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
            )}
          </Field>
          <Field id="group-description" label="Description">
            {(control) => (
              <Textarea {...control} className="font-sans" value={text} onChange={(e) => setText(e.target.value)} />
            )}
          </Field>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending || !name.trim()}>
              {group ? "Save" : "Create group"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
