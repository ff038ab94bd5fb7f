"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, FileCog, MoreHorizontal, Play, Plus, Trash2 } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { toast } from "sonner";
import { CloneConfigDialog } from "@/components/config/clone-dialog";
import { QueueRunDialog } from "@/components/config/queue-run-dialog";
import type { ConfigListItem } from "@/components/config/queries";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { useSearchShortcut } from "@/lib/hooks/use-search-shortcut";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { useSidebarProject } from "@/lib/hooks/use-sidebar-project";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { idParam, keys, useProject } from "@/lib/queries";
import { formatDate, timeAgo } from "@/lib/utils";

const SORTS = {
  newest: { sort: "created_at", order: "desc", label: "Newest first" },
  oldest: { sort: "created_at", order: "asc", label: "Oldest first" },
  name: { sort: "name", order: "asc", label: "Name A–Z" },
} as const;
type SortKey = keyof typeof SORTS;

/** A config; `editable` (editors, owners) adds queueing, cloning and deleting. */
function ConfigRow({ config, editable }: { config: ConfigListItem; editable: boolean }) {
  const queryClient = useQueryClient();
  const [queueing, setQueueing] = useState(false);
  const [cloning, setCloning] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const href = `/config/?id=${config.id}`;
  return (
    <tr className="hover:bg-muted/40">
      <th scope="row" className="px-4 py-2.5 text-left font-medium">
        <Link href={href} className="hover:underline">
          {config.name}
        </Link>
      </th>
      <td className="px-4 py-2.5">
        <Link href={`${href}&tab=history`} aria-label={`v${config.latest_version}: version history of ${config.name}`}>
          <Badge variant="secondary">v{config.latest_version}</Badge>
        </Link>
      </td>
      <td className="hidden px-4 py-2.5 text-muted-foreground md:table-cell" title={formatDate(config.created_at)}>
        {timeAgo(config.created_at)}
      </td>
      <td className="hidden px-4 py-2.5 text-muted-foreground sm:table-cell" title={formatDate(config.updated_at)}>
        {timeAgo(config.updated_at)}
      </td>
      <td className="px-4 py-2.5 tabular-nums">
        {config.run_count > 0 ? (
          <Link href={`${href}&tab=runs`} className="hover:underline" aria-label={`${config.run_count} ${config.run_count === 1 ? "run" : "runs"} of ${config.name}`}>
            {config.run_count}
          </Link>
        ) : (
          <span className="text-muted-foreground">0</span>
        )}
      </td>
      <td className="px-4 py-2.5 text-right">
        <div className="flex justify-end gap-1">
          {editable && (
            <Button variant="outline" size="sm" onClick={() => setQueueing(true)}>
              <Play /> Queue run
            </Button>
          )}
          <DropdownMenu>
            <DropdownMenuTrigger asChild>
              <Button variant="ghost" size="icon-sm" aria-label={`Actions for ${config.name}`}>
                <MoreHorizontal />
              </Button>
            </DropdownMenuTrigger>
            <DropdownMenuContent align="end">
              <DropdownMenuItem asChild>
                <Link href={href}>
                  <FileCog /> Open
                </Link>
              </DropdownMenuItem>
              {editable && (
                <DropdownMenuItem onSelect={() => setCloning(true)}>
                  <Copy /> Clone
                </DropdownMenuItem>
              )}
              {editable && (
                <DropdownMenuItem destructive onSelect={() => setDeleting(true)}>
                  <Trash2 /> Delete
                </DropdownMenuItem>
              )}
            </DropdownMenuContent>
          </DropdownMenu>
        </div>
        <QueueRunDialog config={config} open={queueing} onOpenChange={setQueueing} />
        <CloneConfigDialog config={config} open={cloning} onOpenChange={setCloning} />
        <Confirm
          open={deleting}
          onOpenChange={setDeleting}
          title={`Delete ${config.name}?`}
          description="Its versions are deleted. Runs already queued or finished keep their own copy of the config they ran. This cannot be undone."
          confirmLabel="Delete config"
          onConfirm={async () => {
            try {
              await unwrap(api.DELETE("/configs/{config_id}", { params: { path: { config_id: config.id } } }));
              toast.success(`Deleted ${config.name}`);
              queryClient.invalidateQueries({ queryKey: keys.configs(config.project_id) });
            } catch (e) {
              toast.error(errorMessage(e));
            }
          }}
        />
      </td>
    </tr>
  );
}

function Configs() {
  const params = useSearchParams();
  const projectId = idParam(params.get("id"));
  const project = useProject(projectId);
  const { can } = useProjectRole(projectId);
  const [q, setQ] = useUrlState("q");
  const [sortParam, setSort] = useUrlState("sort");
  const sort: SortKey = sortParam && sortParam in SORTS ? (sortParam as SortKey) : "newest";
  const searchRef = useSearchShortcut();
  useSidebarProject(projectId);

  const configs = useQuery({
    queryKey: [...keys.configs(projectId ?? 0), { q, sort }],
    queryFn: () =>
      unwrap(
        api.GET("/projects/{project_id}/configs", {
          params: {
            path: { project_id: projectId! },
            query: { q: q || undefined, sort: SORTS[sort].sort, order: SORTS[sort].order, limit: 200 },
          },
        }),
      ),
    enabled: projectId != null,
    placeholderData: (previous) => previous,
  });

  const newHref = `/config/new/?project=${projectId}`;
  const newButton = (
    <Button asChild>
      <Link href={newHref}>
        <Plus /> New config
      </Link>
    </Button>
  );
  return (
    <>
      <PageHeader
        crumbs={[
          { label: "Projects", href: "/projects/" },
          { label: project.data?.name ?? (projectId ? `Project ${projectId}` : "Project"), href: `/project/?id=${projectId}` },
          { label: "Configs" },
        ]}
        title="Configs"
        description="Training recipes of this project. Each save is a new version; a run keeps the version it ran."
        actions={projectId != null && can.edit && newButton}
      />
      <PageBody>
        {projectId == null ? (
          <EmptyState title="No project chosen" description="Open a project from the Projects page first." />
        ) : project.error && !project.data ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : (
          <>
            <div className="flex flex-wrap items-center gap-3">
              <Input
                ref={searchRef}
                type="search"
                aria-label="Search configs"
                placeholder="Search configs  ( / )"
                className="max-w-sm"
                defaultValue={params.get("q") ?? ""}
                onChange={(e) => setQ(e.target.value || null)}
              />
              <Select value={sort} onValueChange={(v) => setSort(v === "newest" ? null : v)}>
                <SelectTrigger aria-label="Sort configs" className="w-40">
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  {Object.entries(SORTS).map(([key, s]) => (
                    <SelectItem key={key} value={key}>
                      {s.label}
                    </SelectItem>
                  ))}
                </SelectContent>
              </Select>
              {configs.data && (
                <span className="text-sm text-muted-foreground">
                  {configs.data.total} {configs.data.total === 1 ? "config" : "configs"}
                </span>
              )}
            </div>
            {configs.isPending ? (
              <LoadingRows />
            ) : configs.error && !configs.data ? (
              <ErrorState error={configs.error} retry={() => configs.refetch()} />
            ) : configs.data.items.length === 0 ? (
              <EmptyState
                icon={<FileCog className="size-8" />}
                title={q ? `No config matches “${q}”` : "No configs yet"}
                description={
                  q
                    ? "Try another name."
                    : "A config is a training recipe: the dataset, the model and the settings (epochs, batch size, learning rate…). Runs are queued from a config, and each save keeps a new version, so every run can say exactly what it trained with."
                }
                action={!q && can.edit && newButton}
              />
            ) : (
              <Card className="overflow-x-auto">
                <table className="w-full text-sm">
                  <thead className="border-b text-left text-muted-foreground">
                    <tr>
                      <th scope="col" className="px-4 py-2 font-medium">Name</th>
                      <th scope="col" className="px-4 py-2 font-medium">Latest</th>
                      <th scope="col" className="hidden px-4 py-2 font-medium md:table-cell">Created</th>
                      <th scope="col" className="hidden px-4 py-2 font-medium sm:table-cell">Last saved</th>
                      <th scope="col" className="px-4 py-2 font-medium">Runs</th>
                      <th scope="col" className="px-4 py-2 text-right font-medium">
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody className="divide-y">
                    {configs.data.items.map((c) => (
                      <ConfigRow key={c.id} config={c} editable={can.edit} />
                    ))}
                  </tbody>
                </table>
              </Card>
            )}
          </>
        )}
      </PageBody>
    </>
  );
}

export default function ConfigsPage() {
  return (
    <Suspense>
      <Configs />
    </Suspense>
  );
}
