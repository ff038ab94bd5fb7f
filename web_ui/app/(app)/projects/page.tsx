"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { FolderKanban, MoreHorizontal, Pencil, Plus, Trash2 } from "lucide-react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { toast } from "sonner";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Field } from "@/components/ui/field";
import { Input, Textarea } from "@/components/ui/input";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";
import { projectAccess } from "@/lib/hooks/use-project-role";
import { useSearchShortcut } from "@/lib/hooks/use-search-shortcut";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { keys } from "@/lib/queries";
import { timeAgo } from "@/lib/utils";

type Project = Schemas["ProjectOut"];
type ProjectListItem = Schemas["ProjectListItem"];

/** Create or rename: one dialog, inline errors from the API (e.g. a name already taken). */
function ProjectDialog({
  project,
  open,
  onOpenChange,
}: {
  project?: Project;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const router = useRouter();
  const [name, setName] = useState(project?.name ?? "");
  const [description, setDescription] = useState(project?.description ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const save = useMutation({
    mutationFn: () =>
      project
        ? unwrap(
            api.PATCH("/projects/{project_id}", {
              params: { path: { project_id: project.id } },
              body: { name, description },
            }),
          )
        : unwrap(api.POST("/projects", { body: { name, description } })),
    onSuccess: (saved) => {
      queryClient.invalidateQueries({ queryKey: ["projects"] });
      queryClient.invalidateQueries({ queryKey: keys.project(saved.id) });
      onOpenChange(false);
      toast.success(project ? `Renamed to ${saved.name}` : `Project ${saved.name} created`);
      if (!project) router.push(`/project/?id=${saved.id}`);
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
            <DialogTitle>{project ? "Rename project" : "New project"}</DialogTitle>
            <DialogDescription>
              A project holds configs, runs, experiment groups and models.
            </DialogDescription>
          </DialogHeader>
          <Field id="project-name" label="Name" error={nameError}>
            {(control) => (
              <Input {...control} value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
            )}
          </Field>
          <Field id="project-description" label="Description">
            {(control) => (
              <Textarea
                {...control}
                className="font-sans"
                value={description}
                onChange={(e) => setDescription(e.target.value)}
              />
            )}
          </Field>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending || !name.trim()}>
              {project ? "Save" : "Create project"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function ProjectRow({ project }: { project: ProjectListItem }) {
  const queryClient = useQueryClient();
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const { role, can } = projectAccess(project);
  return (
    <li className="flex items-center gap-3 px-4 py-3 hover:bg-muted/40">
      <FolderKanban className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <Link href={`/project/?id=${project.id}`} className="font-medium hover:underline">
          {project.name}
        </Link>
        {project.description && (
          <p className="truncate text-sm text-muted-foreground">{project.description}</p>
        )}
      </div>
      <span className="hidden items-center gap-2 text-sm text-muted-foreground md:flex">
        {project.run_count.toLocaleString()} run{project.run_count === 1 ? "" : "s"}
        {project.latest_run_state && (
          <span className="flex items-center gap-1" title="State of the latest run">
            · latest <RunStateBadge state={project.latest_run_state} />
          </span>
        )}
      </span>
      <span className="hidden text-sm text-muted-foreground sm:block" title={project.updated_at}>
        updated {timeAgo(project.updated_at)}
      </span>
      {role && (
        <Badge variant="outline" className="w-14 justify-center" title={`Your role in ${project.name}`}>
          {role}
        </Badge>
      )}
      {can.own ? (
        <DropdownMenu>
          <DropdownMenuTrigger asChild>
            <Button variant="ghost" size="icon-sm" aria-label={`Actions for ${project.name}`}>
              <MoreHorizontal />
            </Button>
          </DropdownMenuTrigger>
          <DropdownMenuContent align="end">
            <DropdownMenuItem onSelect={() => setRenaming(true)}>
              <Pencil /> Rename
            </DropdownMenuItem>
            <DropdownMenuItem destructive onSelect={() => setDeleting(true)}>
              <Trash2 /> Delete
            </DropdownMenuItem>
          </DropdownMenuContent>
        </DropdownMenu>
      ) : (
        // keeps the rows' columns aligned where an owner's rows have the actions button
        <span className="size-7 shrink-0" aria-hidden />
      )}
      {renaming && <ProjectDialog project={project} open={renaming} onOpenChange={setRenaming} />}
      <Confirm
        open={deleting}
        onOpenChange={setDeleting}
        title={`Delete ${project.name}?`}
        description="Its configs, runs, groups and models are deleted from the dashboard. Run folders on disk are deleted too. This cannot be undone."
        confirmLabel="Delete project"
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/projects/{project_id}", { params: { path: { project_id: project.id } } }));
            toast.success(`Deleted ${project.name}`);
            queryClient.invalidateQueries({ queryKey: ["projects"] });
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </li>
  );
}

function Projects() {
  const [q, setQ] = useUrlState("q");
  const [creating, setCreating] = useState(false);
  const searchRef = useSearchShortcut();
  const params = useSearchParams();
  const projects = useQuery({
    queryKey: keys.projects(q ?? ""),
    queryFn: () =>
      unwrap(api.GET("/projects", { params: { query: { q: q || undefined, limit: 200, sort: "name" } } })),
    placeholderData: (previous) => previous,
  });
  return (
    <>
      <PageHeader
        title="Projects"
        description="Each project keeps its configs, runs and models together."
        actions={
          <Button onClick={() => setCreating(true)}>
            <Plus /> New project
          </Button>
        }
      />
      <PageBody>
        <Input
          ref={searchRef}
          type="search"
          aria-label="Search projects"
          placeholder="Search projects  ( / )"
          className="max-w-sm"
          defaultValue={params.get("q") ?? ""}
          onChange={(e) => setQ(e.target.value || null)}
        />
        {projects.isPending ? (
          <LoadingRows />
        ) : projects.error && !projects.data ? (
          <ErrorState error={projects.error} retry={() => projects.refetch()} />
        ) : projects.data.items.length === 0 ? (
          <EmptyState
            title={q ? `No project matches “${q}”` : "No projects yet"}
            description={q ? "Try another name." : "Create one to add configs and queue runs."}
            action={
              !q && (
                <Button onClick={() => setCreating(true)}>
                  <Plus /> New project
                </Button>
              )
            }
          />
        ) : (
          <Card>
            <ul className="divide-y">
              {projects.data.items.map((project) => (
                <ProjectRow key={project.id} project={project} />
              ))}
            </ul>
          </Card>
        )}
      </PageBody>
      {creating && <ProjectDialog open={creating} onOpenChange={setCreating} />}
    </>
  );
}

export default function ProjectsPage() {
  return (
    <Suspense>
      <Projects />
    </Suspense>
  );
}
