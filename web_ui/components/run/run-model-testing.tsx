"use client";

// Model testing: images dropped, pasted or picked are classified one request each by the chosen
// checkpoint (POST /runs/{id}/predict), so each card fills in as its answer comes and a refused
// file shows its own reason while the others are classified. The saliency overlay comes back at
// the image's size; clicking another class explains that one instead.
import { FileWarning, ImagePlus, Layers, RotateCw, Trash2, Upload, X } from "lucide-react";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Spinner } from "@/components/ui/states";
import { Switch } from "@/components/ui/switch";
import { API_ROOT, csrfHeaders, errorMessage, toApiError, type Schemas } from "@/lib/api/client";
import { cn } from "@/lib/utils";
import { CheckpointSelect } from "./checkpoint-select";

type ImageResult = Schemas["ImageResultOut"];

/** What the dashboard decodes (the server checks again and names what it refuses). */
const ACCEPT = "image/png,image/jpeg,image/webp,image/bmp,image/gif";
/** Requests in flight at once: the server tests one at a time, two keeps it busy. */
const PARALLEL = 2;
const TOP_K = [1, 3, 5, 10] as const;

interface Item {
  key: number;
  file: File;
  preview: string; // an object URL of the file, revoked when the item goes
  status: "pending" | "done" | "error";
  result?: ImageResult;
  error?: string;
  /** The class the overlay explains, when the user picked one other than the top. */
  target?: string;
}

export async function classify(
  runId: number,
  file: File,
  options: { checkpoint: string; topK: number; saliency: boolean; target?: string },
): Promise<ImageResult> {
  const form = new FormData();
  form.append("files", file, file.name);
  form.append("checkpoint", options.checkpoint);
  form.append("top_k", String(options.topK));
  form.append("saliency", String(options.saliency));
  if (options.target) form.append("target", options.target);
  let response: Response;
  try {
    response = await fetch(`${API_ROOT}/runs/${runId}/predict`, {
      method: "POST",
      body: form,
      headers: csrfHeaders(),
      credentials: "include",
    });
  } catch (cause) {
    throw new Error(`the dashboard could not be reached (${String(cause)})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response.status, body);
  const result = (body as Schemas["ModelTestOut"]).results[0];
  if (!result) throw new Error("the dashboard answered without a result for this image");
  return result;
}

export function RunModelTesting({ runId }: { runId: number }) {
  const [checkpoint, setCheckpoint] = useState("best");
  const [topK, setTopK] = useState(5);
  const [saliency, setSaliency] = useState(true);
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(1);
  const running = useRef(new Set<number>());
  const picker = useRef<HTMLInputElement>(null);
  const ids = { topK: useId(), saliency: useId() };
  const options = { checkpoint, topK, saliency };

  const add = useCallback((files: Iterable<File>) => {
    const added = [...files].map((file) => ({
      key: nextKey.current++,
      file,
      preview: URL.createObjectURL(file),
      status: "pending" as const,
    }));
    if (added.length) setItems((current) => [...added, ...current]);
  }, []);

  // Send pending items, at most PARALLEL at a time; each answer fills its own card.
  useEffect(() => {
    const waiting = items.filter((i) => i.status === "pending" && !running.current.has(i.key));
    const free = PARALLEL - running.current.size;
    for (const item of waiting.slice(0, Math.max(0, free))) {
      running.current.add(item.key);
      classify(runId, item.file, { ...options, target: item.target })
        .then(
          (result) => ({ status: "done" as const, result, error: undefined }),
          (error: unknown) => ({ status: "error" as const, result: undefined, error: errorMessage(error) }),
        )
        .then((outcome) => {
          running.current.delete(item.key);
          setItems((current) => current.map((i) => (i.key === item.key ? { ...i, ...outcome } : i)));
        });
    }
    // options are read when an item is sent; changing them re-queues items (below).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [items, runId]);

  // Another checkpoint, k or saliency setting: every image is tested again with it.
  const settings = `${checkpoint}|${topK}|${saliency}`;
  const lastSettings = useRef(settings);
  useEffect(() => {
    if (lastSettings.current === settings) return;
    lastSettings.current = settings;
    setItems((current) => current.map((i) => ({ ...i, status: "pending", target: undefined })));
  }, [settings]);

  // Paste images anywhere on the page while this tab is open.
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const files = [...(event.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        event.preventDefault();
        add(files);
      }
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  }, [add]);

  // Object URLs live as long as their items.
  const previews = useRef(new Map<number, string>());
  useEffect(() => {
    const keep = new Map(items.map((i) => [i.key, i.preview]));
    for (const [key, url] of previews.current) if (!keep.has(key)) URL.revokeObjectURL(url);
    previews.current = keep;
  }, [items]);
  useEffect(() => () => previews.current.forEach((url) => URL.revokeObjectURL(url)), []);

  const remove = (key: number) => setItems((current) => current.filter((i) => i.key !== key));
  const explain = (key: number, label: string) =>
    setItems((current) =>
      current.map((i) => (i.key === key ? { ...i, status: "pending", target: label } : i)),
    );
  const busy = items.some((i) => i.status === "pending");

  return (
    <div className="flex flex-col gap-4" data-model-testing>
      <div className="flex flex-wrap items-end gap-4">
        <CheckpointSelect runId={runId} value={checkpoint} onChange={setCheckpoint} />
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={ids.topK}>Top classes</Label>
          <Select value={String(topK)} onValueChange={(v) => setTopK(Number(v))}>
            <SelectTrigger id={ids.topK} className="w-24">
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              {TOP_K.map((k) => (
                <SelectItem key={k} value={String(k)}>
                  {k}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        </div>
        <div className="flex h-9 items-center gap-2">
          <Switch id={ids.saliency} checked={saliency} onCheckedChange={setSaliency} />
          <Label htmlFor={ids.saliency}>Saliency (Grad-CAM)</Label>
        </div>
        <div className="ml-auto flex items-center gap-2">
          {busy && <Spinner label="Testing" />}
          {items.length > 0 && (
            <>
              <Button
                variant="outline"
                size="sm"
                onClick={() => setItems((c) => c.map((i) => ({ ...i, status: "pending" })))}
                disabled={busy}
              >
                <RotateCw /> Test again
              </Button>
              <Button variant="ghost" size="sm" onClick={() => setItems([])}>
                <Trash2 /> Clear
              </Button>
            </>
          )}
        </div>
      </div>

      <div
        role="region"
        aria-label="Images to test: drop, paste or choose files"
        data-dropzone
        onDragOver={(event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = "copy";
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          add(event.dataTransfer.files);
        }}
        className={cn(
          "flex flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed px-6 py-8 text-center transition-colors",
          dragging ? "border-primary bg-primary/5" : "border-border bg-muted/30",
        )}
      >
        <ImagePlus className="size-8 text-muted-foreground" aria-hidden />
        <p className="font-medium">Drop images here, paste them, or choose files</p>
        <p className="text-sm text-muted-foreground">
          PNG, JPEG, WebP, BMP or GIF. Each is classified by the <strong>{checkpoint}</strong> checkpoint.
        </p>
        <input
          ref={picker}
          type="file"
          accept={ACCEPT}
          multiple
          className="sr-only"
          aria-label="Choose images"
          tabIndex={-1}
          onChange={(event) => {
            add(event.target.files ?? []);
            event.target.value = "";
          }}
        />
        <Button size="sm" variant="outline" onClick={() => picker.current?.click()}>
          <Upload /> Choose images
        </Button>
      </div>

      {items.length > 0 && (
        <ul className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3" aria-label="Test results">
          {items.map((item) => (
            <ResultCard
              key={item.key}
              item={item}
              onRemove={() => remove(item.key)}
              onExplain={(label) => explain(item.key, label)}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function ResultCard({
  item,
  onRemove,
  onExplain,
}: {
  item: Item;
  onRemove: () => void;
  onExplain: (label: string) => void;
}) {
  const [showOverlay, setShowOverlay] = useState(true);
  const [broken, setBroken] = useState(false);
  const result = item.result;
  const overlay = result?.saliency?.overlay;
  const shown = overlay && showOverlay ? overlay : item.preview;
  const explained = result?.saliency?.label;
  return (
    <li>
      <Card className="flex h-full flex-col overflow-hidden" data-result={item.file.name}>
        <div className="relative flex aspect-[4/3] items-center justify-center bg-muted/40">
          {broken ? (
            <FileWarning className="size-10 text-muted-foreground" aria-label={`${item.file.name} cannot be shown`} />
          ) : (
            // eslint-disable-next-line @next/next/no-img-element -- a local object URL or a data: URL
            <img
              src={shown}
              alt={overlay && showOverlay ? `${item.file.name} with the saliency of ${explained}` : item.file.name}
              // Scaled to the frame; small images (digits, icons) keep their pixels sharp.
              className="h-full w-full object-contain"
              style={{ imageRendering: result && Math.max(result.width, result.height) <= 128 ? "pixelated" : "auto" }}
              onError={() => setBroken(true)}
              data-overlay={overlay && showOverlay ? "" : undefined}
            />
          )}
          {item.status === "pending" && (
            <div className="absolute inset-0 flex items-center justify-center bg-background/60">
              <Spinner label={`Testing ${item.file.name}`} />
            </div>
          )}
          <Button
            variant="secondary"
            size="icon-sm"
            className="absolute right-2 top-2 opacity-80 hover:opacity-100"
            onClick={onRemove}
            aria-label={`Remove ${item.file.name}`}
          >
            <X />
          </Button>
        </div>
        <div className="flex flex-1 flex-col gap-2 p-3">
          <div className="flex items-center justify-between gap-2">
            <p className="truncate text-sm font-medium" title={item.file.name}>
              {item.file.name}
            </p>
            {overlay && (
              <Button
                variant="ghost"
                size="sm"
                aria-pressed={showOverlay}
                onClick={() => setShowOverlay((v) => !v)}
                title="Show the image with or without its saliency map"
              >
                <Layers /> {showOverlay ? "Hide map" : "Show map"}
              </Button>
            )}
          </div>
          {result && (
            <p className="text-xs text-muted-foreground">
              {result.width}×{result.height}
              {explained && (
                <>
                  {" "}
                  · map explains <span className="font-medium text-foreground">{explained}</span>
                </>
              )}
            </p>
          )}
          {item.status === "error" && (
            <p role="alert" className="rounded-md bg-destructive/10 px-2 py-1.5 text-sm text-destructive">
              {item.error}
            </p>
          )}
          {result && (
            <ol className="flex flex-col gap-1" aria-label={`Predictions for ${item.file.name}`}>
              {result.predictions.map((p, rank) => (
                <li key={p.index}>
                  <button
                    type="button"
                    onClick={() => onExplain(p.label)}
                    className={cn(
                      "group grid w-full grid-cols-[minmax(0,1fr)_auto] items-center gap-x-2 rounded px-1 py-0.5 text-left text-sm hover:bg-accent",
                      explained === p.label && "ring-1 ring-primary/40",
                    )}
                    title={`Show what makes the model see ${p.label}`}
                  >
                    <span className={cn("truncate", rank === 0 && "font-semibold")}>
                      <span className="sr-only">Explain </span>
                      {p.label}
                    </span>
                    <span className="tabular-nums text-muted-foreground">{(p.probability * 100).toFixed(1)}%</span>
                    <span className="col-span-2 h-1.5 overflow-hidden rounded-full bg-muted">
                      <span
                        className={cn("block h-full rounded-full", rank === 0 ? "bg-primary" : "bg-primary/40")}
                        style={{ width: `${Math.max(0.5, p.probability * 100)}%` }}
                      />
                    </span>
                  </button>
                </li>
              ))}
            </ol>
          )}
        </div>
      </Card>
    </li>
  );
}
