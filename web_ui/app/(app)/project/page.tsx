"use client";

import { FileCode2 } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { RunsView } from "@/components/runs/runs-view";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { ErrorState, LoadingRows } from "@/components/ui/states";
import { useSidebarProject } from "@/lib/hooks/use-sidebar-project";
import { idParam, useProject } from "@/lib/queries";

/** A project's overview: its runs, live, as a table to filter, sort, compare and act on. */
function ProjectOverview() {
  const id = idParam(useSearchParams().get("id"));
  const project = useProject(id);
  useSidebarProject(id);

  const crumbs = [{ label: "Projects", href: "/projects/" }, { label: project.data?.name ?? (id ? `Project ${id}` : "Project") }];
  if (id === null) {
    return (
      <>
        <PageHeader crumbs={crumbs} title="Project" />
        <PageBody>
          <ErrorState error={new Error("This link names no project (?id= is missing or not a number); pick one on the projects page.")} />
        </PageBody>
      </>
    );
  }
  return (
    <>
      <PageHeader
        crumbs={crumbs}
        title={project.data?.name ?? "…"}
        description={project.data?.description || undefined}
        actions={
          <Button variant="outline" asChild>
            <Link href={`/project/configs/?id=${id}`}>
              <FileCode2 /> Configs
            </Link>
          </Button>
        }
      />
      <PageBody>
        {project.isPending ? (
          <LoadingRows rows={8} />
        ) : project.error && !project.data ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : (
          <RunsView project={project.data} />
        )}
      </PageBody>
    </>
  );
}

export default function ProjectPage() {
  return (
    <Suspense>
      <ProjectOverview />
    </Suspense>
  );
}
