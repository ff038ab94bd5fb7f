"use client";

// The run's evaluation reports (stored in its folder): headline numbers, a reliability diagram
// with its ECE, the confusion matrix and per-class table, the most confidently misclassified
// images (each opens its saliency view) and the likeliest label errors. Any checkpoint's report
// can be computed here; the trainer writes best on val when a run finishes.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ClipboardCheck, FileArchive, Play } from "lucide-react";
import { useId, useRef, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { EmptyState, ErrorState, LoadingRows, Spinner } from "@/components/ui/states";
import {
  API_ROOT,
  ApiError,
  api,
  csrfHeaders,
  errorMessage,
  toApiError,
  unwrap,
  type Schemas,
} from "@/lib/api/client";
import { ConfusionMatrix } from "./confusion-matrix";
import { CheckpointSelect } from "./checkpoint-select";
import { classify } from "./run-model-testing";

type Report = Schemas["ReportOut"];
type Split = "val" | "test" | "upload";

/** Evaluate a checkpoint on a labelled zip (class folders of images); stored as its "upload". */
async function evaluateZip(runId: number, checkpoint: string, file: File): Promise<Report> {
  let response: Response;
  try {
    response = await fetch(`${API_ROOT}/runs/${runId}/reports/${checkpoint}/upload`, {
      method: "POST",
      body: file,
      headers: { "Content-Type": "application/octet-stream", ...csrfHeaders() },
      credentials: "include",
    });
  } catch (cause) {
    throw new Error(`the dashboard could not be reached (${String(cause)})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response.status, body);
  return body as Report;
}

const reportKeys = {
  list: (runId: number) => ["run", runId, "reports"] as const,
  one: (runId: number, checkpoint: string, split: Split) => ["run", runId, "reports", checkpoint, split] as const,
};

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function imageUrl(runId: number, report: Report, index: number): string {
  return `${API_ROOT}/runs/${runId}/reports/${report.checkpoint.name}/images/${index}?split=${report.split}`;
}

/** The run's evaluation reports; `editable` (editors, owners) adds computing new ones. */
export function RunEvaluation({ runId, editable }: { runId: number; editable: boolean }) {
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: reportKeys.list(runId),
    queryFn: () => unwrap(api.GET("/runs/{run_id}/reports", { params: { path: { run_id: runId } } })),
  });
  const [picked, setPicked] = useState<string | null>(null);
  const [target, setTarget] = useState({ checkpoint: "best", split: "val" as Split });
  const ids = { report: useId(), split: useId() };
  const items = list.data?.items ?? [];
  const current = picked ?? (items[0] ? `${items[0].checkpoint}|${items[0].split}` : null);
  const [checkpoint, split] = (current ?? "|").split("|") as [string, Split];

  const report = useQuery({
    queryKey: reportKeys.one(runId, checkpoint, split),
    queryFn: () =>
      unwrap(
        api.GET("/runs/{run_id}/reports/{checkpoint}", {
          params: { path: { run_id: runId, checkpoint }, query: { split } },
        }),
      ),
    enabled: current != null,
  });
  const zipPicker = useRef<HTMLInputElement>(null);
  const compute = useMutation({
    mutationFn: (zip?: File) =>
      zip
        ? evaluateZip(runId, target.checkpoint, zip)
        : unwrap(
            api.POST("/runs/{run_id}/reports/{checkpoint}", {
              params: {
                path: { run_id: runId, checkpoint: target.checkpoint },
                query: { split: target.split as "val" | "test" },
              },
            }),
          ),
    onSuccess: (data) => {
      queryClient.setQueryData(reportKeys.one(runId, data.checkpoint.name, data.split as Split), data);
      setPicked(`${data.checkpoint.name}|${data.split}`);
      void queryClient.invalidateQueries({ queryKey: reportKeys.list(runId), exact: true });
    },
  });

  const computeForm = editable && (
    <div className="flex flex-wrap items-end gap-3">
      <CheckpointSelect
        runId={runId}
        value={target.checkpoint}
        onChange={(v) => setTarget((t) => ({ ...t, checkpoint: v }))}
      />
      <div className="flex flex-col gap-1.5">
        <Label htmlFor={ids.split}>Split</Label>
        <Select value={target.split} onValueChange={(v) => setTarget((t) => ({ ...t, split: v as Split }))}>
          <SelectTrigger id={ids.split} className="w-24">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value="val">val</SelectItem>
            <SelectItem value="test">test</SelectItem>
          </SelectContent>
        </Select>
      </div>
      <Button onClick={() => compute.mutate(undefined)} disabled={compute.isPending}>
        {compute.isPending ? <Spinner label="Evaluating" /> : <Play />}
        {compute.isPending ? "Evaluating…" : "Evaluate"}
      </Button>
      <input
        ref={zipPicker}
        type="file"
        accept=".zip,application/zip"
        className="sr-only"
        aria-label="Labelled zip to evaluate"
        tabIndex={-1}
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) compute.mutate(file);
          event.target.value = "";
        }}
      />
      <Button
        variant="outline"
        onClick={() => zipPicker.current?.click()}
        disabled={compute.isPending}
        title="A zip of class folders of images (<class>/<image>): the checkpoint is evaluated on them"
      >
        <FileArchive /> Evaluate a labelled zip
      </Button>
      {compute.error && (
        <p role="alert" className="basis-full text-sm text-destructive">
          {errorMessage(compute.error)}
        </p>
      )}
    </div>
  );

  if (list.isPending) return <LoadingRows rows={4} />;
  if (list.error && !list.data) return <ErrorState error={list.error} retry={() => list.refetch()} />;
  if (items.length === 0) {
    return (
      <div className="flex flex-col gap-4">
        <EmptyState
          icon={<ClipboardCheck className="size-8" />}
          title="No evaluation report yet"
          description={
            editable
              ? "A run writes one for its best checkpoint on val when it finishes. Evaluate any checkpoint here: it runs on the dashboard's CPU."
              : "A run writes one for its best checkpoint on val when it finishes. An editor of the project can evaluate other checkpoints."
          }
        />
        {computeForm}
      </div>
    );
  }

  return (
    <div className="flex flex-col gap-4" data-evaluation>
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={ids.report}>Report</Label>
          <Select value={current ?? undefined} onValueChange={setPicked}>
            <SelectTrigger id={ids.report} className="w-56">
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              {items.map((item) => (
                <SelectItem key={`${item.checkpoint}|${item.split}`} value={`${item.checkpoint}|${item.split}`}>
                  {item.checkpoint} on {item.split === "upload" ? "the uploaded set" : item.split} · {pct(item.accuracy)}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        </div>
        {computeForm}
      </div>
      {report.isPending ? (
        <LoadingRows rows={6} />
      ) : report.error && !report.data ? (
        <ErrorState error={report.error} retry={() => report.refetch()} />
      ) : (
        <ReportView runId={runId} report={report.data} />
      )}
    </div>
  );
}

function Tile({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Card className="px-4 py-3">
      <p className="text-xs text-muted-foreground">{label}</p>
      <p className="text-xl font-semibold tabular-nums">{value}</p>
      {hint && <p className="text-xs text-muted-foreground">{hint}</p>}
    </Card>
  );
}

function ReportView({ runId, report }: { runId: number; report: Report }) {
  const [inspected, setInspected] = useState<Schemas["Mistake"] | null>(null);
  const topK = report.top_k.filter((t) => t.k > 1);
  return (
    <div className="flex flex-col gap-4">
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
        <Tile label="Accuracy" value={pct(report.accuracy)} hint={`${report.num_samples} ${report.split} images`} />
        <Tile label="Macro F1" value={report.macro_f1.toFixed(3)} />
        {topK.slice(0, 1).map((t) => (
          <Tile key={t.k} label={`Top-${t.k} accuracy`} value={pct(t.accuracy)} />
        ))}
        <Tile label="ECE" value={report.calibration.ece.toFixed(3)} hint="expected calibration error" />
        <Tile label="Likely label errors" value={String(report.label_issues.count)} />
        <Tile
          label="Checkpoint"
          value={report.checkpoint.name}
          hint={report.checkpoint.epoch != null ? `epoch ${report.checkpoint.epoch}, step ${report.checkpoint.step}` : `step ${report.checkpoint.step}`}
        />
      </div>

      <div className="grid items-start gap-4 xl:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Reliability diagram</CardTitle>
            <CardDescription>
              Accuracy against confidence in {report.calibration.n_bins} bins; on the diagonal, a confidence of 80% is right 80% of the time.
              ECE {report.calibration.ece.toFixed(3)}.
            </CardDescription>
          </CardHeader>
          <CardContent>
            <ReliabilityDiagram calibration={report.calibration} />
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Confusion matrix</CardTitle>
          </CardHeader>
          <CardContent className="overflow-x-auto">
            <ConfusionMatrix
              matrix={report.confusion.counts}
              classes={report.class_names}
              title={`Confusion matrix of ${report.checkpoint.name} on ${report.split}`}
            />
          </CardContent>
        </Card>
      </div>

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Most confident mistakes</CardTitle>
          <CardDescription>
            Wrong predictions the model was surest of. Open one to see what it looked at.
          </CardDescription>
        </CardHeader>
        <CardContent>
          {report.mistakes.length === 0 ? (
            <p className="text-sm text-muted-foreground">No misclassified images.</p>
          ) : (
            <ul className="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-6" aria-label="Misclassified images" data-mistakes>
              {report.mistakes.map((m) => (
                <li key={m.image}>
                  <button
                    type="button"
                    onClick={() => setInspected(m)}
                    className="flex w-full flex-col gap-1 rounded-md border p-2 text-left text-xs hover:bg-accent"
                    title={`${m.path}: labelled ${m.true}, predicted ${m.predicted}`}
                  >
                    {/* eslint-disable-next-line @next/next/no-img-element -- served by the API, any size */}
                    <img
                      src={imageUrl(runId, report, m.image)}
                      alt={m.path}
                      loading="lazy"
                      className="aspect-square w-full rounded bg-muted object-contain [image-rendering:pixelated]"
                    />
                    <span>
                      <span className="text-muted-foreground">true</span> <strong>{m.true}</strong>
                    </span>
                    <span>
                      <span className="text-muted-foreground">said</span> <strong className="text-destructive">{m.predicted}</strong>{" "}
                      <span className="tabular-nums">{pct(m.confidence)}</span>
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </CardContent>
      </Card>

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Likely label errors</CardTitle>
          <CardDescription>{report.label_issues.note}</CardDescription>
        </CardHeader>
        <CardContent className="overflow-x-auto">
          {report.label_issues.items.length === 0 ? (
            <p className="text-sm text-muted-foreground">None found.</p>
          ) : (
            <table className="w-full text-sm" data-label-issues>
              <caption className="sr-only">Likely label errors</caption>
              <thead className="border-b text-left text-xs text-muted-foreground">
                <tr>
                  <th scope="col" className="px-2 py-2 font-medium">Image</th>
                  <th scope="col" className="px-2 py-2 font-medium">File</th>
                  <th scope="col" className="px-2 py-2 font-medium">Labelled</th>
                  <th scope="col" className="px-2 py-2 font-medium">Looks like</th>
                  <th scope="col" className="px-2 py-2 text-right font-medium">Label quality</th>
                </tr>
              </thead>
              <tbody className="divide-y">
                {report.label_issues.items.map((issue) => (
                  <tr key={issue.image}>
                    <td className="px-2 py-1.5">
                      {/* eslint-disable-next-line @next/next/no-img-element -- served by the API */}
                      <img
                        src={imageUrl(runId, report, issue.image)}
                        alt={issue.path}
                        loading="lazy"
                        className="size-10 rounded bg-muted object-contain [image-rendering:pixelated]"
                      />
                    </td>
                    <td className="px-2 py-1.5 font-mono text-xs">{issue.path}</td>
                    <td className="px-2 py-1.5">{issue.given}</td>
                    <td className="px-2 py-1.5">
                      <Badge variant="secondary">{issue.suggested}</Badge>{" "}
                      <span className="tabular-nums text-xs text-muted-foreground">{pct(issue.suggested_probability)}</span>
                    </td>
                    <td className="px-2 py-1.5 text-right tabular-nums">{issue.quality.toFixed(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </CardContent>
      </Card>

      <PerClassTable report={report} />

      <SaliencyDialog runId={runId} report={report} mistake={inspected} onClose={() => setInspected(null)} />
    </div>
  );
}

function PerClassTable({ report }: { report: Report }) {
  return (
    <Card className="overflow-x-auto">
      <table className="w-full text-sm">
        <caption className="px-4 pt-3 text-left text-base font-semibold">Per class</caption>
        <thead className="border-b text-left text-xs text-muted-foreground">
          <tr>
            <th scope="col" className="px-4 py-2 font-medium">Class</th>
            <th scope="col" className="px-4 py-2 text-right font-medium">Precision</th>
            <th scope="col" className="px-4 py-2 text-right font-medium">Recall</th>
            <th scope="col" className="px-4 py-2 text-right font-medium">F1</th>
            <th scope="col" className="px-4 py-2 text-right font-medium">Support</th>
          </tr>
        </thead>
        <tbody className="divide-y tabular-nums">
          {report.per_class.map((row) => (
            <tr key={row.class}>
              <td className="px-4 py-1.5 font-medium">{row.class}</td>
              <td className="px-4 py-1.5 text-right">{row.precision.toFixed(3)}</td>
              <td className="px-4 py-1.5 text-right">{row.recall.toFixed(3)}</td>
              <td className="px-4 py-1.5 text-right">{row.f1.toFixed(3)}</td>
              <td className="px-4 py-1.5 text-right">{row.support}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

/** Bars of accuracy per confidence bin against the diagonal; bar opacity follows the bin's count. */
function ReliabilityDiagram({ calibration }: { calibration: Schemas["Calibration"] }) {
  const size = 260;
  const pad = 32;
  const inner = size - pad - 8;
  const x = (v: number) => pad + v * inner;
  const y = (v: number) => 8 + (1 - v) * inner;
  const most = Math.max(1, ...calibration.bins.map((b) => b.count));
  return (
    <figure className="flex flex-col items-center gap-2">
      <svg
        viewBox={`0 0 ${size} ${size}`}
        className="w-full max-w-sm"
        role="img"
        aria-label={`Reliability diagram, ECE ${calibration.ece.toFixed(3)}`}
        data-reliability
      >
        <rect x={pad} y={8} width={inner} height={inner} className="fill-muted/40 stroke-border" />
        {[0.25, 0.5, 0.75].map((t) => (
          <g key={t} className="stroke-border">
            <line x1={x(t)} x2={x(t)} y1={y(0)} y2={y(1)} strokeDasharray="2 3" />
            <line x1={x(0)} x2={x(1)} y1={y(t)} y2={y(t)} strokeDasharray="2 3" />
          </g>
        ))}
        {calibration.bins.map((bin) =>
          bin.count > 0 && bin.accuracy != null ? (
            <rect
              key={bin.lower}
              x={x(bin.lower) + 0.5}
              y={y(bin.accuracy)}
              width={Math.max(1, x(bin.upper) - x(bin.lower) - 1)}
              height={y(0) - y(bin.accuracy)}
              className="fill-primary"
              fillOpacity={0.35 + 0.65 * (bin.count / most)}
              data-bin={bin.lower}
            >
              <title>
                {`${pct(bin.lower)}–${pct(bin.upper)}: ${bin.count} images, accuracy ${pct(bin.accuracy)}, mean confidence ${pct(bin.confidence ?? 0)}`}
              </title>
            </rect>
          ) : null,
        )}
        <line x1={x(0)} y1={y(0)} x2={x(1)} y2={y(1)} className="stroke-foreground" strokeDasharray="4 3" />
        {[0, 0.5, 1].map((t) => (
          <g key={t} className="fill-muted-foreground text-[9px]">
            <text x={x(t)} y={size - 12} textAnchor="middle">
              {t}
            </text>
            <text x={pad - 6} y={y(t) + 3} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        <text x={pad + inner / 2} y={size - 1} textAnchor="middle" className="fill-muted-foreground text-[9px]">
          confidence
        </text>
        <text transform={`translate(9 ${8 + inner / 2}) rotate(-90)`} textAnchor="middle" className="fill-muted-foreground text-[9px]">
          accuracy
        </text>
      </svg>
    </figure>
  );
}

/** A mistake's image with the saliency of the class the model wrongly chose (model testing on
 *  the report's own checkpoint). */
function SaliencyDialog({
  runId,
  report,
  mistake,
  onClose,
}: {
  runId: number;
  report: Report;
  mistake: Schemas["Mistake"] | null;
  onClose: () => void;
}) {
  const view = useQuery({
    queryKey: ["saliency", runId, report.checkpoint.name, report.split, mistake?.image, mistake?.predicted],
    queryFn: async () => {
      const response = await fetch(imageUrl(runId, report, mistake!.image), { credentials: "include" });
      if (!response.ok) throw new ApiError(response.status, "error", `the image could not be loaded (${response.status})`);
      const name = mistake!.path.split("/").pop() ?? "image";
      const file = new File([await response.blob()], name, { type: response.headers.get("content-type") ?? "" });
      return classify(runId, file, {
        checkpoint: report.checkpoint.name,
        topK: 3,
        saliency: true,
        target: mistake!.predicted,
      });
    },
    enabled: mistake != null,
    staleTime: Infinity,
  });
  return (
    <Dialog open={mistake != null} onOpenChange={(open) => !open && onClose()}>
      <DialogContent className="max-w-lg">
        <DialogHeader>
          <DialogTitle>{mistake?.path}</DialogTitle>
          <DialogDescription>
            Labelled <strong>{mistake?.true}</strong>, predicted <strong>{mistake?.predicted}</strong>
            {mistake ? ` (${pct(mistake.confidence)})` : ""}. The map shows what made the model say {mistake?.predicted}.
          </DialogDescription>
        </DialogHeader>
        {view.isPending ? (
          <div className="flex items-center gap-2 py-8 text-sm text-muted-foreground">
            <Spinner /> Computing the saliency map…
          </div>
        ) : view.error ? (
          <p role="alert" className="text-sm text-destructive">
            {errorMessage(view.error)}
          </p>
        ) : (
          <div className="flex flex-col gap-3" data-saliency-view>
            {view.data.saliency && (
              // eslint-disable-next-line @next/next/no-img-element -- a data: URL from the API
              <img
                src={view.data.saliency.overlay}
                alt={`${mistake?.path} with the saliency of ${view.data.saliency.label}`}
                className="mx-auto max-h-80 w-full rounded object-contain [image-rendering:pixelated]"
              />
            )}
            <ol className="text-sm">
              {view.data.predictions.map((p) => (
                <li key={p.index} className="flex justify-between">
                  <span>{p.label}</span>
                  <span className="tabular-nums">{pct(p.probability)}</span>
                </li>
              ))}
            </ol>
          </div>
        )}
      </DialogContent>
    </Dialog>
  );
}
