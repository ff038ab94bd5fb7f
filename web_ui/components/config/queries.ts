// The queries behind the config pages (page-specific, so they live here, not in lib/queries).
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { keys } from "@/lib/queries";
import type { ConfigSchema } from "./schema";

export type Config = Schemas["ConfigOut"];
export type ConfigListItem = Schemas["ConfigListItem"];

export function useConfigSchema() {
  return useQuery({
    queryKey: ["train-config-schema"],
    queryFn: async () => (await unwrap(api.GET("/options/train-config-schema"))) as unknown as ConfigSchema,
    staleTime: Infinity,
  });
}

export function useFormOptions(projectId: number | null) {
  return useQuery({
    queryKey: ["options", projectId],
    queryFn: () => unwrap(api.GET("/options", { params: { query: { project_id: projectId ?? undefined } } })),
    staleTime: 60_000,
  });
}

export function useConfig(id: number | null) {
  return useQuery({
    queryKey: keys.config(id ?? 0),
    queryFn: () => unwrap(api.GET("/configs/{config_id}", { params: { path: { config_id: id! } } })),
    enabled: id != null,
  });
}

export function useDatasets() {
  return useQuery({
    queryKey: keys.datasets,
    queryFn: () => unwrap(api.GET("/datasets", { params: { query: { limit: 200, sort: "name" } } })),
    staleTime: 30_000,
  });
}

export function useProjectModels(projectId: number | null) {
  return useQuery({
    queryKey: keys.models(projectId ?? 0),
    queryFn: () =>
      unwrap(
        api.GET("/projects/{project_id}/models", {
          params: { path: { project_id: projectId! }, query: { limit: 200 } },
        }),
      ),
    enabled: projectId != null,
    staleTime: 30_000,
  });
}

export function useAgents(enabled = true) {
  return useQuery({
    queryKey: keys.agents,
    queryFn: () => unwrap(api.GET("/agents", { params: { query: { limit: 200 } } })),
    enabled,
  });
}
