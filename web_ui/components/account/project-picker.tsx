"use client";

import { Checkbox } from "@/components/ui/checkbox";
import { Label } from "@/components/ui/label";
import { LoadingRows } from "@/components/ui/states";
import { errorMessage } from "@/lib/api/client";
import { useProjects } from "@/lib/queries";

/** Ticks of the user's projects: a token limited to them. None ticked means every project. */
export function ProjectPicker({
  id,
  selected,
  onChange,
  describedBy,
}: {
  id: string;
  selected: number[];
  onChange: (ids: number[]) => void;
  describedBy?: string;
}) {
  const projects = useProjects();
  if (projects.isPending) return <LoadingRows rows={2} />;
  if (projects.error && !projects.data) {
    return (
      <p role="alert" className="text-sm text-destructive">
        Could not list your projects: {errorMessage(projects.error)}
      </p>
    );
  }
  if (projects.data.items.length === 0) {
    return <p className="text-sm text-muted-foreground">You are a member of no project yet.</p>;
  }
  return (
    <ul
      id={id}
      aria-label="Projects"
      aria-describedby={describedBy}
      className="flex max-h-40 flex-col gap-2 overflow-y-auto rounded-md border p-3"
    >
      {projects.data.items.map((project) => {
        const checkboxId = `${id}-${project.id}`;
        const checked = selected.includes(project.id);
        return (
          <li key={project.id} className="flex items-center gap-2">
            <Checkbox
              id={checkboxId}
              checked={checked}
              onCheckedChange={(v) =>
                onChange(v === true ? [...selected, project.id] : selected.filter((p) => p !== project.id))
              }
            />
            <Label htmlFor={checkboxId} className="truncate font-normal">
              {project.name}
            </Label>
          </li>
        );
      })}
    </ul>
  );
}
