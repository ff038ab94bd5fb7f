import type { ProjectRole } from "@/lib/hooks/use-project-role";

/** The roles, least to most, with what each adds (the API's own rules, said for people). */
export const ROLES: { value: ProjectRole; label: string; help: string }[] = [
  { value: "viewer", label: "Viewer", help: "reads everything in the project, and tests models" },
  { value: "editor", label: "Editor", help: "also edits configs, queues and manages runs, tags, groups and models" },
  { value: "owner", label: "Owner", help: "also manages members, and renames or deletes the project" },
];
