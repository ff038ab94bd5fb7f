// Query keys and the small queries many pages share. Page-specific queries live with the page.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api/client";

export const keys = {
  me: ["me"] as const,
  projects: (q = "") => ["projects", q] as const,
  project: (id: number) => ["project", id] as const,
  runs: (scope: object) => ["runs", scope] as const,
  run: (id: number) => ["run", id] as const,
  configs: (projectId: number) => ["configs", projectId] as const,
  config: (id: number) => ["config", id] as const,
  datasets: ["datasets"] as const,
  agents: ["agents"] as const,
  groups: (projectId: number) => ["groups", projectId] as const,
  models: (projectId: number) => ["models", projectId] as const,
  members: (projectId: number) => ["members", projectId] as const,
  tokens: ["tokens"] as const,
  sessions: ["sessions"] as const,
  audit: (filters: object) => ["audit", filters] as const,
};

export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: () => unwrap(api.GET("/auth/me")),
    retry: false,
    staleTime: 60_000,
  });
}

export function useProject(id: number | null) {
  return useQuery({
    queryKey: keys.project(id ?? 0),
    queryFn: () => unwrap(api.GET("/projects/{project_id}", { params: { path: { project_id: id! } } })),
    enabled: id != null && id > 0,
  });
}

/** Every project the signed-in user is a member of (admins: every project), by name. The same
 *  key and request as the projects page's unfiltered list, so the two share one cache entry. */
export function useProjects() {
  return useQuery({
    queryKey: keys.projects(""),
    queryFn: () => unwrap(api.GET("/projects", { params: { query: { limit: 200, sort: "name" } } })),
  });
}

/** A project's experiment groups, by name (the run table's group filter, the queue dialog):
 *  one key, one request, so every list of them is in the same order. */
export function useGroups(projectId: number, enabled = true) {
  return useQuery({
    queryKey: keys.groups(projectId),
    queryFn: () =>
      unwrap(
        api.GET("/projects/{project_id}/groups", {
          params: { path: { project_id: projectId }, query: { limit: 200, sort: "name", order: "asc" } },
        }),
      ),
    enabled,
  });
}

/** A positive integer from a query-string value, or null. */
export function idParam(value: string | null): number | null {
  if (!value) return null;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : null;
}
