"use client";

import { Eye } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { ConfigEditor } from "@/components/config/config-editor";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { useSidebarProject } from "@/lib/hooks/use-sidebar-project";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { idParam, useProject } from "@/lib/queries";

function NewConfig() {
  const params = useSearchParams();
  const projectId = idParam(params.get("project"));
  const project = useProject(projectId);
  const { can } = useProjectRole(projectId);
  useSidebarProject(projectId);

  const crumbs = [
    { label: "Projects", href: "/projects/" },
    ...(projectId
      ? [
          { label: project.data?.name ?? `Project ${projectId}`, href: `/project/?id=${projectId}` },
          { label: "Configs", href: `/project/configs/?id=${projectId}` },
        ]
      : []),
    { label: "New config" },
  ];
  return (
    <>
      <PageHeader
        crumbs={crumbs}
        title="New config"
        description="Everything a training run needs: the dataset, the model and the recipe. Required: a name, the dataset and the model; every other setting has a default."
      />
      <PageBody>
        {projectId == null ? (
          <EmptyState title="No project chosen" description="Create a config from a project's Configs page." />
        ) : project.isPending ? (
          <LoadingRows rows={8} />
        ) : project.error && !project.data ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : !can.edit ? (
          <EmptyState
            icon={<Eye className="size-8" />}
            title="Creating configs is for editors"
            description={`You are a viewer of ${project.data.name}: you can read its configs and runs. An owner can make you an editor on the project's Members page.`}
            action={
              <Button variant="outline" asChild>
                <Link href={`/project/configs/?id=${projectId}`}>Back to configs</Link>
              </Button>
            }
          />
        ) : (
          <ConfigEditor mode={{ kind: "new", projectId }} />
        )}
      </PageBody>
    </>
  );
}

export default function NewConfigPage() {
  return (
    <Suspense>
      <NewConfig />
    </Suspense>
  );
}
