"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Copy, History, ListOrdered, MoreHorizontal, Play, Trash2 } from "lucide-react";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { toast } from "sonner";
import { CloneConfigDialog } from "@/components/config/clone-dialog";
import { ConfigEditor } from "@/components/config/config-editor";
import { ConfigRuns } from "@/components/config/config-runs";
import { useConfig } from "@/components/config/queries";
import { QueueRunDialog } from "@/components/config/queue-run-dialog";
import { VersionHistory } from "@/components/config/version-history";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { ReadOnlyNote } from "@/components/shell/read-only-note";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { useSidebarProject } from "@/lib/hooks/use-sidebar-project";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { idParam, keys, useProject } from "@/lib/queries";
import { formatDate, timeAgo } from "@/lib/utils";

function ConfigPageInner() {
  const params = useSearchParams();
  const id = idParam(params.get("id"));
  const config = useConfig(id);
  const projectId = config.data?.project_id ?? null;
  const project = useProject(projectId);
  const { can } = useProjectRole(projectId);
  const router = useRouter();
  const queryClient = useQueryClient();
  const [queueing, setQueueing] = useState(false);
  const [cloning, setCloning] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [dirty, setDirty] = useState(false);

  useSidebarProject(projectId);

  const projectName = project.data?.name ?? (projectId ? `Project ${projectId}` : "Project");
  const crumbs = [
    { label: "Projects", href: "/projects/" },
    ...(projectId
      ? [
          { label: projectName, href: `/project/?id=${projectId}` },
          { label: "Configs", href: `/project/configs/?id=${projectId}` },
        ]
      : []),
    { label: config.data?.name ?? "Config" },
  ];

  if (id == null) {
    return (
      <>
        <PageHeader crumbs={[{ label: "Projects", href: "/projects/" }]} title="Config" />
        <PageBody>
          <EmptyState title="No config chosen" description="Open a config from a project's Configs page." />
        </PageBody>
      </>
    );
  }

  const data = config.data;
  return (
    <>
      <PageHeader
        crumbs={crumbs}
        title={
          <span className="flex items-center gap-3">
            {data?.name ?? "Config"}
            {data && <Badge variant="secondary">v{data.latest_version}</Badge>}
          </span>
        }
        description={
          data && (
            <span title={formatDate(data.latest.created_at)}>
              {data.versions.length} {data.versions.length === 1 ? "version" : "versions"} · created{" "}
              {timeAgo(data.created_at)} · last saved {timeAgo(data.latest.created_at)}
            </span>
          )
        }
        actions={
          data &&
          can.edit && (
            <>
              <Button onClick={() => setQueueing(true)}>
                <Play /> Queue run
              </Button>
              <Button variant="outline" onClick={() => setCloning(true)}>
                <Copy /> Clone
              </Button>
              <DropdownMenu>
                <DropdownMenuTrigger asChild>
                  <Button variant="ghost" size="icon" aria-label={`More actions for ${data.name}`}>
                    <MoreHorizontal />
                  </Button>
                </DropdownMenuTrigger>
                <DropdownMenuContent align="end">
                  <DropdownMenuItem destructive onSelect={() => setDeleting(true)}>
                    <Trash2 /> Delete config
                  </DropdownMenuItem>
                </DropdownMenuContent>
              </DropdownMenu>
            </>
          )
        }
      />
      <PageBody>
        {config.isPending ? (
          <LoadingRows rows={8} />
        ) : config.error && !config.data ? (
          <ErrorState error={config.error} retry={() => config.refetch()} />
        ) : (
          <>
            {project.data && !can.edit && (
              <ReadOnlyNote>
                You are a viewer of {project.data.name}: you can read this config and its history, not change or queue it.
                An owner of the project can make you an editor on its Members page.
              </ReadOnlyNote>
            )}
            <ConfigEditor
              readOnly={!can.edit}
              mode={{ kind: "edit", config: config.data }}
              onDirtyChange={setDirty}
              extraTabs={[
                {
                  value: "history",
                  label: (
                    <>
                      <History aria-hidden /> History ({config.data.versions.length})
                    </>
                  ),
                  content: (editor) => <VersionHistory config={config.data} editor={editor} readOnly={!can.edit} />,
                },
                {
                  value: "runs",
                  label: (
                    <>
                      <ListOrdered aria-hidden /> Runs
                    </>
                  ),
                  content: () => <ConfigRuns configId={config.data.id} onQueue={can.edit ? () => setQueueing(true) : undefined} />,
                },
              ]}
            />
          </>
        )}
      </PageBody>
      {data && (
        <>
          <QueueRunDialog
            config={data}
            open={queueing}
            onOpenChange={setQueueing}
            warning={
              dirty
                ? `The form has unsaved changes: a run takes a saved version. Save first (as version ${data.latest_version + 1}) to run them.`
                : undefined
            }
          />
          <CloneConfigDialog config={data} open={cloning} onOpenChange={setCloning} />
          <Confirm
            open={deleting}
            onOpenChange={setDeleting}
            title={`Delete ${data.name}?`}
            description="Its versions are deleted. Runs already queued or finished keep their own copy of the config they ran. This cannot be undone."
            confirmLabel="Delete config"
            onConfirm={async () => {
              try {
                await unwrap(api.DELETE("/configs/{config_id}", { params: { path: { config_id: data.id } } }));
                toast.success(`Deleted ${data.name}`);
                queryClient.invalidateQueries({ queryKey: keys.configs(data.project_id) });
                queryClient.removeQueries({ queryKey: keys.config(data.id) });
                router.push(`/project/configs/?id=${data.project_id}`);
              } catch (e) {
                toast.error(errorMessage(e));
              }
            }}
          />
        </>
      )}
    </>
  );
}

export default function ConfigPage() {
  return (
    <Suspense>
      <ConfigPageInner />
    </Suspense>
  );
}
