"use client";

import type { Schemas } from "@/lib/api/client";
import { useMe, useProject } from "@/lib/queries";

export type ProjectRole = "viewer" | "editor" | "owner";

export interface ProjectAccess {
  /** the caller's role in the project (admins: owner), or null until the project has loaded */
  role: ProjectRole | null;
  can: {
    /** configs, runs, tags, groups, models, reports, exports, imports */
    edit: boolean;
    /** members, renaming and deleting the project */
    own: boolean;
  };
}

/** What a role may do. The API enforces the same rules; the UI only hides what would be refused. */
export function accessFor(role: ProjectRole | null | undefined): ProjectAccess {
  const r = role ?? null;
  return { role: r, can: { edit: r === "editor" || r === "owner", own: r === "owner" } };
}

/** The signed-in user's rights in a project, from the project's `role`. Until it is known every
 *  right is false: a change control appearing a moment late beats one that flashes for a viewer. */
export function useProjectRole(projectId: number | null | undefined): ProjectAccess {
  const project = useProject(projectId ?? null);
  return accessFor(project.data?.role);
}

/** Rights in a project already at hand (a row of the projects list). */
export function projectAccess(project: Pick<Schemas["ProjectOut"], "role">): ProjectAccess {
  return accessFor(project.role);
}

/** Admins alone manage users, agents (drain) and datasets. */
export function useIsAdmin(): boolean {
  return useMe().data?.is_admin === true;
}
