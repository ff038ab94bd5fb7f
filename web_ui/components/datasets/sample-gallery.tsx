"use client";

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Skeleton } from "@/components/ui/skeleton";
import { ErrorState } from "@/components/ui/states";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { Thumbnail } from "./thumbnail";

type Analysis = Schemas["DatasetAnalysis"];
type Split = "train" | "val" | "test";
type Sample = Schemas["SampleOut"];

/** thumbnails shown per class, and classes shown before "Show more classes" */
const PER_CLASS = 8;
const CLASSES_PAGE = 12;
const THUMB = 128;

function fileName(path: string): string {
  return path.split("/").pop() ?? path;
}

function ClassSamples({
  datasetId,
  split,
  className: cls,
  count,
  onOpen,
}: {
  datasetId: number;
  split: Split;
  className: string;
  count: number;
  onOpen: (sample: Sample) => void;
}) {
  const samples = useQuery({
    queryKey: ["dataset-samples", datasetId, split, cls],
    queryFn: () =>
      unwrap(
        api.GET("/datasets/{dataset_id}/samples", {
          params: { path: { dataset_id: datasetId }, query: { split, class_name: cls, limit: PER_CLASS, order: "asc" } },
        }),
      ),
    enabled: count > 0,
  });
  return (
    <li className="flex flex-col gap-1.5">
      <h3 className="text-sm font-medium">
        {cls} <span className="font-normal text-muted-foreground">· {count.toLocaleString()} images</span>
      </h3>
      {count === 0 ? (
        <p className="text-sm text-muted-foreground">No images in {split}.</p>
      ) : samples.isPending ? (
        <div className="flex gap-2">
          {Array.from({ length: Math.min(count, PER_CLASS) }, (_, i) => (
            <Skeleton key={i} className="size-20" />
          ))}
        </div>
      ) : samples.error && !samples.data ? (
        <ErrorState error={samples.error} retry={() => samples.refetch()} />
      ) : (
        <ul className="flex flex-wrap gap-2" aria-label={`Samples of ${cls}`}>
          {samples.data.items.map((sample) => (
            <li key={sample.path}>
              <button
                type="button"
                className="rounded-md focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-ring"
                onClick={() => onOpen(sample)}
                aria-label={`Enlarge ${fileName(sample.path)}`}
              >
                <Thumbnail
                  datasetId={datasetId}
                  path={sample.path}
                  size={THUMB}
                  alt={`${cls}: ${fileName(sample.path)}`}
                  className="size-20 border"
                />
              </button>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** A few images of every class, per split; one enlarges in a dialog. */
export function SampleGallery({ datasetId, analysis }: { datasetId: number; analysis: Analysis }) {
  const splits = (["train", "val", "test"] as const).filter((s) => s in analysis.counts);
  const [split, setSplit] = useState<Split>(splits[0] ?? "train");
  const [shown, setShown] = useState(CLASSES_PAGE);
  const [open, setOpen] = useState<Sample | null>(null);
  // One look at the folder first: when it is gone, say so once instead of once per class.
  const reachable = useQuery({
    queryKey: ["dataset-samples", datasetId, "reachable"],
    queryFn: () =>
      unwrap(
        api.GET("/datasets/{dataset_id}/samples", {
          params: { path: { dataset_id: datasetId }, query: { split: splits[0] ?? "train", limit: 1 } },
        }),
      ),
  });
  // The class galleries wait for the probe: each would otherwise report a missing folder too.
  if (reachable.isPending) {
    return (
      <SamplesCard>
        <Skeleton className="h-20 w-full" />
      </SamplesCard>
    );
  }
  if (reachable.error && !reachable.data) {
    return (
      <SamplesCard>
        <ErrorState error={reachable.error} retry={() => reachable.refetch()} />
      </SamplesCard>
    );
  }
  return (
    <Card>
      <Tabs value={split} onValueChange={(v) => setSplit(v as Split)}>
        <CardHeader className="flex-row flex-wrap items-center justify-between gap-3">
          <div>
            <CardTitle>Samples</CardTitle>
            <CardDescription>The first images of each class, by file name.</CardDescription>
          </div>
          <TabsList aria-label="Split">
            {splits.map((s) => (
              <TabsTrigger key={s} value={s}>
                {s}
              </TabsTrigger>
            ))}
          </TabsList>
        </CardHeader>
        {splits.map((s) => (
          <TabsContent key={s} value={s}>
            <CardContent className="flex flex-col gap-4">
              <ul className="flex flex-col gap-4">
                {analysis.classes.slice(0, shown).map((cls) => (
                  <ClassSamples
                    key={`${s}/${cls}`}
                    datasetId={datasetId}
                    split={s}
                    className={cls}
                    count={analysis.counts[s]?.[cls] ?? 0}
                    onOpen={setOpen}
                  />
                ))}
              </ul>
              {analysis.classes.length > shown && (
                <Button variant="outline" className="self-start" onClick={() => setShown((n) => n + CLASSES_PAGE)}>
                  Show more classes ({analysis.classes.length - shown} more)
                </Button>
              )}
            </CardContent>
          </TabsContent>
        ))}
      </Tabs>
      <Dialog open={open != null} onOpenChange={(o) => !o && setOpen(null)}>
        {open && (
          <DialogContent className="max-w-xl">
            <DialogHeader>
              <DialogTitle>{open.class_name}</DialogTitle>
              <DialogDescription className="font-mono break-all">{open.path}</DialogDescription>
            </DialogHeader>
            <Thumbnail
              datasetId={datasetId}
              path={open.path}
              size={512}
              alt={`${open.class_name}: ${fileName(open.path)}, enlarged`}
              className="mx-auto h-auto max-h-[60vh] w-full"
            />
          </DialogContent>
        )}
      </Dialog>
    </Card>
  );
}

/** The samples card while there are no galleries to show (loading, or the folder unreachable). */
function SamplesCard({ children }: { children: React.ReactNode }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>Samples</CardTitle>
      </CardHeader>
      <CardContent>{children}</CardContent>
    </Card>
  );
}
