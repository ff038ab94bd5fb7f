"use client";

import { useQuery } from "@tanstack/react-query";
import { Boxes, Plus } from "lucide-react";
import { useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";
import { ModelDialog } from "@/components/models/model-dialog";
import { ModelRow } from "@/components/models/model-row";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { idParam, keys, useProject } from "@/lib/queries";
import { useUi } from "@/lib/store/ui";

function ProjectModels({ projectId }: { projectId: number }) {
  const setProjectId = useUi((s) => s.setProjectId);
  useEffect(() => setProjectId(projectId), [projectId, setProjectId]);
  const project = useProject(projectId);
  const { can } = useProjectRole(projectId);
  const [adding, setAdding] = useState(false);
  const models = useQuery({
    // Under keys.models (one invalidation refreshes it) but apart from the config editor's unsorted
    // list of the same models, which shares that prefix.
    queryKey: [...keys.models(projectId), { sort: "name" }],
    queryFn: () =>
      unwrap(
        api.GET("/projects/{project_id}/models", {
          params: { path: { project_id: projectId }, query: { limit: 200, sort: "name", order: "asc" } },
        }),
      ),
  });
  const projectName = project.data?.name ?? `Project ${projectId}`;
  const addButton = (
    <Button onClick={() => setAdding(true)}>
      <Plus /> Add model
    </Button>
  );
  return (
    <>
      <PageHeader
        crumbs={[
          { label: "Projects", href: "/projects/" },
          { label: projectName, href: `/project/?id=${projectId}` },
          { label: "Models" },
        ]}
        title="Models"
        description="The Hub models and local save_pretrained folders this project's configs fine-tune."
        actions={can.edit && addButton}
      />
      <PageBody>
        {project.error ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : models.isPending ? (
          <LoadingRows rows={3} />
        ) : models.error && !models.data ? (
          <ErrorState error={models.error} retry={() => models.refetch()} />
        ) : models.data.items.length === 0 ? (
          <EmptyState
            icon={<Boxes className="size-8" />}
            title="No models registered"
            description="Add a Hugging Face Hub id (org/name) or a save_pretrained folder from VISIONYARD_MODELS_DIR, with a token if the Hub model is gated or private."
            action={can.edit && addButton}
          />
        ) : (
          <Card>
            <ul className="divide-y" aria-label="Models">
              {models.data.items.map((model) => (
                <ModelRow key={model.id} model={model} editable={can.edit} />
              ))}
            </ul>
          </Card>
        )}
      </PageBody>
      {adding && <ModelDialog projectId={projectId} open={adding} onOpenChange={setAdding} />}
    </>
  );
}

function ModelsPageInner() {
  const id = idParam(useSearchParams().get("id"));
  if (id == null) {
    return (
      <>
        <PageHeader crumbs={[{ label: "Projects", href: "/projects/" }]} title="Models" />
        <PageBody>
          <EmptyState title="No project given" description="Open a project, then its Models page." />
        </PageBody>
      </>
    );
  }
  return <ProjectModels key={id} projectId={id} />;
}

export default function ModelsPage() {
  return (
    <Suspense>
      <ModelsPageInner />
    </Suspense>
  );
}
