"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Database, Trash2 } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { useIsAdmin } from "@/lib/hooks/use-project-role";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { keys } from "@/lib/queries";
import { timeAgo } from "@/lib/utils";

type Dataset = Schemas["DatasetOut"];

/** "1,797 images · 10 classes · train 1,078 / val 359 / test 360" */
export function datasetSummary(dataset: Dataset): string {
  const analysis = dataset.analysis;
  if (!analysis) return "not analysed";
  const total = Object.values(analysis.num_images).reduce((a, b) => a + b, 0);
  const splits = Object.entries(analysis.num_images)
    .map(([split, n]) => `${split} ${n.toLocaleString()}`)
    .join(" / ");
  return `${total.toLocaleString()} images · ${analysis.classes.length} classes · ${splits}`;
}

function DatasetRow({ dataset }: { dataset: Dataset }) {
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState(false);
  const isAdmin = useIsAdmin();
  const skipped = dataset.analysis?.skipped.length ?? 0;
  return (
    <li className="flex items-center gap-3 px-4 py-3 hover:bg-muted/40">
      <Database className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <Link href={`/dataset/?id=${dataset.id}`} className="font-medium hover:underline">
            {dataset.name}
          </Link>
          <code className="truncate font-mono text-xs text-muted-foreground">{dataset.path || "."}</code>
          {skipped > 0 && <Badge variant="warning">{skipped} unreadable</Badge>}
        </div>
        <p className="truncate text-sm text-muted-foreground">{datasetSummary(dataset)}</p>
      </div>
      <span className="hidden text-sm text-muted-foreground md:block" title={dataset.analysed_at ?? undefined}>
        analysed {timeAgo(dataset.analysed_at)}
      </span>
      {isAdmin && (
        <Button variant="ghost" size="icon-sm" aria-label={`Delete ${dataset.name}`} onClick={() => setDeleting(true)}>
          <Trash2 />
        </Button>
      )}
      <Confirm
        open={deleting}
        onOpenChange={setDeleting}
        title={`Delete ${dataset.name}?`}
        description="The dataset is removed from the dashboard. Its folder and images stay on disk, and runs that used it keep their own record of it; you can register the folder again."
        confirmLabel="Delete dataset"
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/datasets/{dataset_id}", { params: { path: { dataset_id: dataset.id } } }));
            toast.success(`Deleted ${dataset.name}`);
            queryClient.invalidateQueries({ queryKey: keys.datasets });
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </li>
  );
}

/** The registered datasets, filtered by name. */
export function DatasetList({ q }: { q: string }) {
  const datasets = useQuery({
    queryKey: [...keys.datasets, q],
    queryFn: () => unwrap(api.GET("/datasets", { params: { query: { q: q || undefined, limit: 200, sort: "name", order: "asc" } } })),
    placeholderData: (previous) => previous,
  });
  if (datasets.isPending) return <LoadingRows rows={3} />;
  if (datasets.error && !datasets.data) return <ErrorState error={datasets.error} retry={() => datasets.refetch()} />;
  if (datasets.data.items.length === 0) {
    return (
      <EmptyState
        icon={<Database className="size-8" />}
        title={q ? `No dataset matches “${q}”` : "No datasets registered yet"}
        description={q ? "Try another name." : "Pick a folder of DATASETS_DIR below and register it."}
      />
    );
  }
  return (
    <Card>
      <ul className="divide-y" aria-label="Registered datasets">
        {datasets.data.items.map((dataset) => (
          <DatasetRow key={dataset.id} dataset={dataset} />
        ))}
      </ul>
    </Card>
  );
}
