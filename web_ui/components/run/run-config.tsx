"use client";

import { Check, Copy } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Spinner } from "@/components/ui/states";
import { ApiError, errorMessage, type Schemas } from "@/lib/api/client";
import { useRunJsonFile } from "./queries";

type Run = Schemas["RunDetail"];

function CopyButton({ text, what }: { text: string; what: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <Button
      size="sm"
      variant="outline"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          toast.success(`Copied the ${what}`);
          setTimeout(() => setCopied(false), 1500);
        } catch (e) {
          toast.error(`Could not copy: ${errorMessage(e)}`);
        }
      }}
    >
      {copied ? <Check /> : <Copy />} Copy
    </Button>
  );
}

function str(value: unknown): string | null {
  return typeof value === "string" || typeof value === "number" ? String(value) : null;
}

function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function Rows({ rows }: { rows: [string, React.ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[minmax(8rem,auto)_1fr] gap-x-4 gap-y-1.5 text-sm">
      {rows.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-muted-foreground">{k}</dt>
          <dd className="min-w-0 font-mono text-xs leading-5 break-all">{v ?? "—"}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A run-folder JSON file's state as a sentence (a queued run has none yet). */
function FileState({ query, name }: { query: ReturnType<typeof useRunJsonFile>; name: string }) {
  if (query.isPending) return <Spinner label={`Loading ${name}`} />;
  if (query.error && !query.data) {
    const missing = query.error instanceof ApiError && query.error.status === 404;
    return (
      <p className="text-sm text-muted-foreground">
        {missing ? `No ${name} in the run folder yet: the trainer writes it when the run starts.` : errorMessage(query.error)}
      </p>
    );
  }
  return null;
}

function Environment({ runId }: { runId: number }) {
  const env = useRunJsonFile(runId, "env.json");
  const data = env.data;
  const versions = obj(data?.versions);
  const git = obj(obj(data?.git).visionyard);
  const cwdGit = obj(obj(data?.git).cwd);
  const cuda = obj(data?.cuda);
  const python = obj(data?.python);
  return (
    <Card>
      <CardHeader className="flex-row items-center justify-between">
        <CardTitle className="text-base">Environment</CardTitle>
        {data && <CopyButton text={JSON.stringify(data, null, 2)} what="environment" />}
      </CardHeader>
      <CardContent>
        <FileState query={env} name="env.json" />
        {data && (
          <Rows
            rows={[
              ["git commit", str(git.commit) ?? str(cwdGit.commit)],
              ["git branch", [str(git.branch) ?? str(cwdGit.branch), git.dirty ? " (uncommitted changes)" : ""].join("")],
              ["python", str(python.version)],
              ...Object.entries(versions).map(([k, v]): [string, React.ReactNode] => [k, str(v)]),
              ["devices", Array.isArray(data.devices) ? data.devices.join(", ") : null],
              ["CUDA", cuda.available ? `${str(cuda.cuda_version)} (cuDNN ${str(cuda.cudnn_version) ?? "—"})` : "not available"],
              ["host", str(data.hostname)],
              ["seed", str(data.seed)],
              ["world size", str(data.world_size)],
              ["started (UTC)", str(data.timestamp_utc)],
            ]}
          />
        )}
      </CardContent>
    </Card>
  );
}

function Dataset({ runId }: { runId: number }) {
  const dataset = useRunJsonFile(runId, "dataset.json");
  const data = dataset.data;
  const images = obj(data?.num_images);
  const classes = Array.isArray(data?.classes) ? (data.classes as unknown[]).map(String) : [];
  return (
    <Card>
      <CardHeader className="flex-row items-center justify-between">
        <CardTitle className="text-base">Dataset</CardTitle>
        {data && <CopyButton text={JSON.stringify(data, null, 2)} what="dataset record" />}
      </CardHeader>
      <CardContent>
        <FileState query={dataset} name="dataset.json" />
        {data && (
          <Rows
            rows={[
              ["root", str(data.root)],
              ["fingerprint", str(data.file_list_sha256)],
              ["images", Object.entries(images).map(([k, v]) => `${k} ${str(v)}`).join(" · ")],
              [`classes (${classes.length})`, classes.slice(0, 50).join(", ") + (classes.length > 50 ? " …" : "")],
            ]}
          />
        )}
      </CardContent>
    </Card>
  );
}

/** The config the run trained with (its snapshot), and where it ran: versions, git commit and
 *  the dataset's fingerprint from env.json / dataset.json of the run folder. */
export function RunConfig({ run }: { run: Run }) {
  const text = JSON.stringify(run.config_snapshot, null, 2);
  return (
    <div className="grid gap-4 xl:grid-cols-2">
      <Card className="xl:row-span-2">
        <CardHeader className="flex-row items-center justify-between gap-2">
          <div>
            <CardTitle className="text-base">Config snapshot</CardTitle>
            <p className="text-xs text-muted-foreground">
              hash <span className="font-mono">{run.config_hash.slice(0, 12)}</span>
              {run.config_id != null && (
                <>
                  {" · "}
                  <Link className="underline-offset-2 hover:underline" href={`/config/?id=${run.config_id}`}>
                    open the config
                    {run.config_version != null ? ` (version ${run.config_version})` : ""}
                  </Link>
                </>
              )}
            </p>
          </div>
          <CopyButton text={text} what="config" />
        </CardHeader>
        <CardContent>
          <pre
            className="max-h-[70vh] overflow-auto rounded-md bg-muted/50 p-3 font-mono text-xs leading-5"
            aria-label="Config snapshot"
            tabIndex={0}
          >
            {text}
          </pre>
        </CardContent>
      </Card>
      <Environment runId={run.id} />
      <Dataset runId={run.id} />
    </div>
  );
}
