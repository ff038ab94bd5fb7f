"use client";

// Export bundle of a checkpoint (POST /runs/{id}/export): the Hugging Face folder with its model
// card and, when asked, ONNX checked against PyTorch on the run's val images; one .tar.gz to
// download. The same bundle as `visionyard export RUN_DIR --checkpoint ... --onnx`.
import { useMutation } from "@tanstack/react-query";
import { Download, PackageCheck } from "lucide-react";
import { useId, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { Label } from "@/components/ui/label";
import { Spinner } from "@/components/ui/states";
import { API_BASE, api, errorMessage, unwrap } from "@/lib/api/client";
import { formatBytes } from "@/lib/utils";
import { CheckpointSelect } from "./checkpoint-select";

export function RunExport({ runId }: { runId: number }) {
  const [checkpoint, setCheckpoint] = useState("best");
  const [onnx, setOnnx] = useState(true);
  const onnxId = useId();
  const build = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/runs/{run_id}/export", { params: { path: { run_id: runId } }, body: { checkpoint, onnx } })),
  });
  const done = build.data;
  return (
    <Card>
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <PackageCheck className="size-4" aria-hidden /> Export
        </CardTitle>
        <CardDescription>
          A checkpoint as one archive: the Hugging Face folder (loads with <code>from_pretrained</code> and{" "}
          <code>pipeline</code>), its model card and, with ONNX, a model checked against PyTorch on the run&apos;s val images.
        </CardDescription>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <div className="flex flex-wrap items-end gap-4">
          <CheckpointSelect runId={runId} value={checkpoint} onChange={setCheckpoint} />
          <div className="flex h-9 items-center gap-2">
            <Checkbox id={onnxId} checked={onnx} onCheckedChange={(v) => setOnnx(v === true)} />
            <Label htmlFor={onnxId}>ONNX, validated</Label>
          </div>
          <Button onClick={() => build.mutate()} disabled={build.isPending}>
            {build.isPending ? <Spinner label="Exporting" /> : <PackageCheck />}
            {build.isPending ? "Exporting…" : "Build archive"}
          </Button>
        </div>
        {build.error && (
          <p role="alert" className="text-sm text-destructive">
            {errorMessage(build.error)}
          </p>
        )}
        {done && (
          <div className="flex flex-col gap-2 rounded-md border bg-muted/30 p-3 text-sm" data-export-result>
            <div className="flex flex-wrap items-center gap-3">
              <Button asChild size="sm">
                <a href={`${API_BASE}${done.download_url}`} download={done.name}>
                  <Download /> {done.name}
                </a>
              </Button>
              <span className="text-muted-foreground">
                {formatBytes(done.size)} · sha256 <code className="text-xs">{done.sha256.slice(0, 16)}…</code>
              </span>
            </div>
            <p className="text-muted-foreground">
              {done.checkpoint.name}
              {done.checkpoint.epoch != null ? ` (epoch ${done.checkpoint.epoch})` : ""}; model card metrics: {done.metrics_source}
            </p>
            {done.onnx &&
              (done.onnx.validated ? (
                <p>
                  <Badge variant="success">ONNX validated</Badge>{" "}
                  top-1 agreement {((done.onnx.top1_agreement ?? 0) * 100).toFixed(1)}% on {done.onnx.images} val images, largest
                  logit difference {done.onnx.max_abs_logit_diff?.toExponential(1)} (tolerance {done.onnx.tolerance})
                </p>
              ) : (
                <p>
                  <Badge variant="secondary">ONNX not validated</Badge> {done.onnx.reason}
                </p>
              ))}
          </div>
        )}
      </CardContent>
    </Card>
  );
}
