"use client";

import { X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { useProjects } from "@/lib/queries";

export interface AuditFilterValues {
  username: string;
  action: string;
  /** a project id, or "" for every project */
  project: string;
  /** datetime-local values (the browser's time zone), or "" */
  since: string;
  until: string;
}

export const NO_FILTERS: AuditFilterValues = { username: "", action: "", project: "", since: "", until: "" };

/** Operation ids people look for most; the field takes any other (the API has no list of them). */
const COMMON_ACTIONS = [
  "login",
  "loginFailed",
  "logout",
  "setProjectMember",
  "removeProjectMember",
  "createProject",
  "updateProject",
  "deleteProject",
  "createToken",
  "revokeToken",
  "createUser",
  "updateUser",
  "createRun",
  "cancelRun",
  "requeueRun",
  "resumeRun",
  "deleteRun",
  "updateConfig",
];

const ALL_PROJECTS = "all";

export function AuditFilters({
  value,
  onChange,
}: {
  value: AuditFilterValues;
  onChange: (next: AuditFilterValues) => void;
}) {
  const projects = useProjects();
  const set = (patch: Partial<AuditFilterValues>) => onChange({ ...value, ...patch });
  const active = Object.values(value).some(Boolean);
  return (
    <form
      aria-label="Filter the audit log"
      className="grid grid-cols-2 items-end gap-3 md:grid-cols-3 xl:grid-cols-[1fr_1fr_1fr_auto_auto_auto]"
      onSubmit={(e) => e.preventDefault()}
    >
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="audit-username">User</Label>
        <Input
          id="audit-username"
          type="search"
          value={value.username}
          placeholder="any user"
          autoComplete="off"
          onChange={(e) => set({ username: e.target.value })}
        />
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="audit-action">Action</Label>
        <Input
          id="audit-action"
          type="search"
          list="audit-actions"
          value={value.action}
          placeholder="e.g. cancelRun"
          autoComplete="off"
          onChange={(e) => set({ action: e.target.value })}
        />
        <datalist id="audit-actions">
          {COMMON_ACTIONS.map((action) => (
            <option key={action} value={action} />
          ))}
        </datalist>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="audit-project">Project</Label>
        <Select value={value.project || ALL_PROJECTS} onValueChange={(v) => set({ project: v === ALL_PROJECTS ? "" : v })}>
          <SelectTrigger id="audit-project">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={ALL_PROJECTS}>Any project</SelectItem>
            {projects.data?.items.map((project) => (
              <SelectItem key={project.id} value={String(project.id)}>
                {project.name}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="audit-since">Since</Label>
        <Input id="audit-since" type="datetime-local" value={value.since} onChange={(e) => set({ since: e.target.value })} />
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="audit-until">Until</Label>
        <Input id="audit-until" type="datetime-local" value={value.until} onChange={(e) => set({ until: e.target.value })} />
      </div>
      <Button type="button" variant="ghost" disabled={!active} onClick={() => onChange(NO_FILTERS)}>
        <X /> Clear
      </Button>
    </form>
  );
}
