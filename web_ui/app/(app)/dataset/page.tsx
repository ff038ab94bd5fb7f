"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RefreshCw, Trash2 } from "lucide-react";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { toast } from "sonner";
import { ClassCounts } from "@/components/datasets/class-counts";
import { datasetSummary } from "@/components/datasets/dataset-list";
import { SampleGallery } from "@/components/datasets/sample-gallery";
import { SkippedFiles } from "@/components/datasets/skipped-files";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { useIsAdmin } from "@/lib/hooks/use-project-role";
import { idParam, keys } from "@/lib/queries";
import { formatDate, timeAgo } from "@/lib/utils";

const CRUMBS = [{ label: "Datasets", href: "/datasets/" }];

function DatasetDetail({ id }: { id: number }) {
  const isAdmin = useIsAdmin();
  const queryClient = useQueryClient();
  const router = useRouter();
  const [deleting, setDeleting] = useState(false);
  const detailKey = [...keys.datasets, "detail", id] as const;
  const dataset = useQuery({
    queryKey: detailKey,
    queryFn: () => unwrap(api.GET("/datasets/{dataset_id}", { params: { path: { dataset_id: id } } })),
  });
  const reanalyse = useMutation({
    mutationFn: () => unwrap(api.POST("/datasets/{dataset_id}/analyze", { params: { path: { dataset_id: id } } })),
    onSuccess: (fresh) => {
      queryClient.setQueryData(detailKey, fresh);
      // The lists and pickers; not this detail, which the answer has just filled.
      queryClient.invalidateQueries({ queryKey: keys.datasets, predicate: (q) => q.queryKey[1] !== "detail" });
      queryClient.invalidateQueries({ queryKey: ["dataset-samples", id] });
      toast.success(`Re-analysed ${fresh.name}: ${datasetSummary(fresh)}`);
    },
    onError: (e) => toast.error(`Re-analysis failed: ${errorMessage(e)}`),
  });

  if (dataset.isPending) {
    return (
      <>
        <PageHeader crumbs={CRUMBS} title="Dataset" />
        <PageBody>
          <LoadingRows />
        </PageBody>
      </>
    );
  }
  if (dataset.error && !dataset.data) {
    return (
      <>
        <PageHeader crumbs={CRUMBS} title="Dataset" />
        <PageBody>
          <ErrorState error={dataset.error} retry={() => dataset.refetch()} />
        </PageBody>
      </>
    );
  }
  const d = dataset.data;
  return (
    <>
      <PageHeader
        crumbs={[...CRUMBS, { label: d.name }]}
        title={d.name}
        description={
          <>
            <code className="font-mono">{d.path || "."}</code> in DATASETS_DIR · {datasetSummary(d)} · analysed{" "}
            <span title={formatDate(d.analysed_at)}>{timeAgo(d.analysed_at)}</span>
          </>
        }
        actions={
          isAdmin && (
            <>
              <Button variant="outline" onClick={() => reanalyse.mutate()} disabled={reanalyse.isPending}>
                <RefreshCw className={reanalyse.isPending ? "animate-spin" : undefined} aria-hidden />
                {reanalyse.isPending ? "Analysing…" : "Re-analyse"}
              </Button>
              <Button variant="outline" onClick={() => setDeleting(true)}>
                <Trash2 aria-hidden /> Delete
              </Button>
            </>
          )
        }
      />
      <PageBody>
        {d.analysis ? (
          <>
            <section aria-labelledby="counts-heading" className="flex flex-col gap-3">
              <h2 id="counts-heading" className="text-lg font-semibold">
                Images per class
              </h2>
              <ClassCounts analysis={d.analysis} />
            </section>
            <SkippedFiles skipped={d.analysis.skipped} />
            <SampleGallery key={d.analysed_at ?? ""} datasetId={d.id} analysis={d.analysis} />
          </>
        ) : (
          <EmptyState
            title="Not analysed yet"
            description={
              isAdmin ? "Analyse it to see its splits, classes and images." : "An admin can analyse it to show its splits, classes and images."
            }
            action={isAdmin && <Button onClick={() => reanalyse.mutate()}>Analyse</Button>}
          />
        )}
      </PageBody>
      <Confirm
        open={deleting}
        onOpenChange={setDeleting}
        title={`Delete ${d.name}?`}
        description="The dataset is removed from the dashboard. Its folder and images stay on disk; you can register the folder again."
        confirmLabel="Delete dataset"
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/datasets/{dataset_id}", { params: { path: { dataset_id: d.id } } }));
            toast.success(`Deleted ${d.name}`);
            queryClient.invalidateQueries({ queryKey: keys.datasets });
            router.push("/datasets/");
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </>
  );
}

function DatasetPageInner() {
  const id = idParam(useSearchParams().get("id"));
  if (id == null) {
    return (
      <>
        <PageHeader crumbs={CRUMBS} title="Dataset" />
        <PageBody>
          <EmptyState title="No dataset given" description="Open a dataset from the datasets page." />
        </PageBody>
      </>
    );
  }
  return <DatasetDetail key={id} id={id} />;
}

export default function DatasetPage() {
  return (
    <Suspense>
      <DatasetPageInner />
    </Suspense>
  );
}
