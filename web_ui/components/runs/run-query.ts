// The run table's view of the runs API: one query shape (filters, sort, columns) for the
// table's pages, the counts per state, the CSV export and "select all".
import { api, unwrap, type Schemas } from "@/lib/api/client";
import type { RunState } from "@/lib/runs";

export type RunPage = Schemas["RunPage"];
export type RunKeys = Schemas["RunKeysOut"];

export interface RunQuery {
  state: RunState | null;
  groupId: number | null;
  tag: string | null;
  q: string | null;
  /** filter expressions as the API takes them (`best:val/acc@1>=0.8`) */
  filters: string[];
  sort: string;
  order: "asc" | "desc";
  /** keys whose values each run carries in `values` (metric and config columns) */
  columns: string[];
}

/** Rows per request: the table fetches the pages its visible window needs. */
export const PAGE_SIZE = 100;
/** The API's largest page, for exports. */
const MAX_PAGE = 200;

/** Every query of one project's runs starts with this key: one invalidation refreshes them. */
export function projectRunsKey(projectId: number) {
  return ["runs", { project: projectId }] as const;
}

/** The prefix of every page of the project's table, whatever its view (live patches). */
export function runTableKey(projectId: number) {
  return ["runs", { project: projectId, view: "table" }] as const;
}

export function runPageKey(projectId: number, query: RunQuery, page: number) {
  const [runs, table] = runTableKey(projectId);
  return [runs, { ...table, ...query }, page] as const;
}

export function countsKey(projectId: number, query: RunQuery) {
  const { groupId, tag, q, filters } = query;
  return ["runs", { project: projectId, view: "counts", groupId, tag, q, filters }] as const;
}

export function runKeysKey(projectId: number) {
  return ["runs", { project: projectId, view: "keys" }] as const;
}

function filterParams(query: RunQuery) {
  return {
    group_id: query.groupId ?? undefined,
    tag: query.tag ?? undefined,
    q: query.q ?? undefined,
    filter: query.filters.length ? query.filters : undefined,
  };
}

export function fetchRunPage(
  projectId: number,
  query: RunQuery,
  offset: number,
  limit = PAGE_SIZE,
  signal?: AbortSignal,
): Promise<RunPage> {
  return unwrap(
    api.GET("/projects/{project_id}/runs", {
      params: {
        path: { project_id: projectId },
        query: {
          ...filterParams(query),
          state: query.state ?? undefined,
          sort: query.sort,
          order: query.order,
          column: query.columns.length ? query.columns : undefined,
          offset,
          limit,
        },
      },
      signal,
    }),
  );
}

/** Every run the query matches, in its order (all pages: for exports and "select all"). */
export async function fetchAllRuns(projectId: number, query: RunQuery): Promise<RunPage["items"]> {
  const first = await fetchRunPage(projectId, query, 0, MAX_PAGE);
  const rest = [];
  for (let offset = MAX_PAGE; offset < first.total; offset += MAX_PAGE) {
    rest.push(fetchRunPage(projectId, query, offset, MAX_PAGE));
  }
  const pages = await Promise.all(rest);
  return [first, ...pages].flatMap((p) => p.items);
}

export function fetchCounts(projectId: number, query: RunQuery) {
  return unwrap(
    api.GET("/projects/{project_id}/runs/counts", {
      params: { path: { project_id: projectId }, query: filterParams(query) },
    }),
  );
}

export function fetchRunKeys(projectId: number) {
  return unwrap(
    api.GET("/projects/{project_id}/run-keys", { params: { path: { project_id: projectId } } }),
  );
}
