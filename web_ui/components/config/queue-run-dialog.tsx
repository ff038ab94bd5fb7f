"use client";

// Queue a run of a config version (POST /configs/{id}/runs). Reusable: any page with a config
// (the editor, the configs list, a run page re-queueing from its config) can open it. After
// queueing it shows where the run stands, including why it waits when no agent can take it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { CheckCircle2, Play } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { useGroups } from "@/lib/queries";
import { useAgents } from "./queries";
import { WaitingFor } from "./waiting-for";

export interface QueueableConfig {
  id: number;
  name: string;
  project_id: number;
  latest_version: number;
}

const ANY = "__any__";
const NONE = "__none__";

function NumberInput({
  id,
  label,
  value,
  onChange,
  help,
  error,
  placeholder,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  help?: string;
  error?: string;
  placeholder?: string;
}) {
  const describedBy = [error ? `${id}-error` : null, help ? `${id}-help` : null].filter(Boolean).join(" ");
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Input
        id={id}
        inputMode="numeric"
        className="font-mono"
        value={value}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
      />
      {help && (
        <p id={`${id}-help`} className="text-xs text-muted-foreground">
          {help}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="text-sm text-destructive">
          {error}
        </p>
      )}
    </div>
  );
}

/** "12" -> 12, "" -> undefined (the API's default); anything else goes as typed so the API's
 *  422 names it. */
function intOrText(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const n = Number(t);
  return (Number.isFinite(n) ? n : t) as number;
}

function QueueForm({
  config,
  version,
  warning,
  onQueued,
  onCancel,
}: {
  config: QueueableConfig;
  version?: number;
  warning?: string;
  onQueued: (run: Schemas["RunDetail"]) => void;
  onCancel: () => void;
}) {
  const queryClient = useQueryClient();
  const router = useRouter();
  const agents = useAgents();
  const groups = useGroups(config.project_id);
  const [pickedVersion, setPickedVersion] = useState(String(version ?? config.latest_version));
  const shownVersion = Number(pickedVersion);
  const [name, setName] = useState("");
  const [priority, setPriority] = useState("0");
  const [gpus, setGpus] = useState("");
  const [agent, setAgent] = useState(ANY);
  const [restarts, setRestarts] = useState("3");
  const [group, setGroup] = useState(NONE);
  const [tags, setTags] = useState("");
  const [error, setError] = useState<ApiError | null>(null);

  const queue = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/configs/{config_id}/runs", {
          params: { path: { config_id: config.id } },
          body: {
            version: shownVersion,
            name: name.trim() || undefined,
            priority: intOrText(priority) ?? 0,
            gpu_count: intOrText(gpus) ?? null,
            target_agent: agent === ANY ? null : agent,
            max_restarts: intOrText(restarts) ?? 3,
            group_id: group === NONE ? null : Number(group),
            tags: tags
              .split(",")
              .map((t) => t.trim())
              .filter(Boolean),
          },
        }),
      ),
    onSuccess: (run) => {
      queryClient.invalidateQueries({ queryKey: ["runs"] });
      toast.success(`Run ${run.name} queued`, {
        description: run.waiting_for?.replace(/`/g, "") ?? "An agent can start it now.",
        action: { label: "Open run", onClick: () => router.push(`/run/?id=${run.id}`) },
      });
      onQueued(run);
    },
    onError: (e) => setError(e instanceof ApiError ? e : new ApiError(0, "error", errorMessage(e))),
  });

  const fieldError = (name: string) =>
    error?.fields
      .filter((f) => f.field === name || f.field.startsWith(`${name}.`))
      .map((f) => f.message)
      .join("; ") || undefined;
  const known = ["name", "priority", "gpu_count", "target_agent", "max_restarts", "group_id", "tags"];
  const otherErrors = error
    ? error.fields.length
      ? error.fields.filter((f) => !known.some((k) => f.field === k || f.field.startsWith(`${k}.`)))
      : [{ field: "", message: error.message }]
    : [];

  const agentItems = agents.data?.items ?? [];
  return (
    <form
      className="flex flex-col gap-4"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        e.stopPropagation();
        setError(null);
        queue.mutate();
      }}
    >
      <DialogHeader>
        <DialogTitle>Queue a run</DialogTitle>
        <DialogDescription>
          Runs version {shownVersion} of {config.name}. The run keeps a snapshot of that version,
          so later edits do not change it.
        </DialogDescription>
      </DialogHeader>
      {warning && (
        <p className="rounded-md border border-warning/60 bg-warning/15 p-3 text-sm">{warning}</p>
      )}
      {otherErrors.length > 0 && (
        <div role="alert" className="rounded-md border border-destructive/50 bg-destructive/5 p-3 text-sm text-destructive">
          {otherErrors.map((f) => (
            <p key={f.field + f.message}>{f.field ? `${f.field}: ${f.message}` : f.message}</p>
          ))}
        </div>
      )}
      {config.latest_version > 1 && (
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="run-version">Version</Label>
          <Select value={pickedVersion} onValueChange={setPickedVersion}>
            <SelectTrigger id="run-version" className="w-48">
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              {Array.from({ length: config.latest_version }, (_, i) => config.latest_version - i).map((v) => (
                <SelectItem key={v} value={String(v)}>
                  Version {v}
                  {v === config.latest_version ? " (latest)" : ""}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        </div>
      )}
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="run-name">Run name</Label>
        <Input
          id="run-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder={`${config.name}-v${shownVersion}`}
          aria-invalid={fieldError("name") ? true : undefined}
          aria-describedby={fieldError("name") ? "run-name-error" : "run-name-help"}
        />
        <p id="run-name-help" className="text-xs text-muted-foreground">
          Leave empty for {config.name}-v{shownVersion}.
        </p>
        {fieldError("name") && (
          <p id="run-name-error" className="text-sm text-destructive">
            {fieldError("name")}
          </p>
        )}
      </div>
      <div className="grid gap-4 sm:grid-cols-3">
        <NumberInput id="run-priority" label="Priority" value={priority} onChange={setPriority} help="Higher runs first." error={fieldError("priority")} />
        <NumberInput
          id="run-gpus"
          label="GPU count"
          value={gpus}
          onChange={setGpus}
          placeholder="auto"
          help="0 for CPU; empty: what the config and agents allow."
          error={fieldError("gpu_count")}
        />
        <NumberInput id="run-restarts" label="Max restarts" value={restarts} onChange={setRestarts} help="Retries after crashes." error={fieldError("max_restarts")} />
      </div>
      <div className="grid gap-4 sm:grid-cols-2">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="run-agent">Target agent</Label>
          <Select value={agent} onValueChange={setAgent}>
            <SelectTrigger id="run-agent" aria-invalid={fieldError("target_agent") ? true : undefined}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value={ANY}>Any agent</SelectItem>
              {agentItems.map((a) => (
                <SelectItem key={a.id} value={a.name}>
                  {a.name} ({a.alive ? (a.drained ? "drained" : "online") : "offline"}, {a.gpus.length} GPU
                  {a.gpus.length === 1 ? "" : "s"})
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
          {agents.error && <p className="text-xs text-muted-foreground">Agents could not be listed.</p>}
          {fieldError("target_agent") && <p className="text-sm text-destructive">{fieldError("target_agent")}</p>}
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="run-group">Experiment group</Label>
          <Select value={group} onValueChange={setGroup}>
            <SelectTrigger id="run-group" aria-invalid={fieldError("group_id") ? true : undefined}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value={NONE}>No group</SelectItem>
              {(groups.data?.items ?? []).map((g) => (
                <SelectItem key={g.id} value={String(g.id)}>
                  {g.name}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
          {fieldError("group_id") && <p className="text-sm text-destructive">{fieldError("group_id")}</p>}
        </div>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="run-tags">Tags</Label>
        <Input
          id="run-tags"
          value={tags}
          onChange={(e) => setTags(e.target.value)}
          placeholder="baseline, lr-sweep"
          aria-invalid={fieldError("tags") ? true : undefined}
          aria-describedby={fieldError("tags") ? "run-tags-error run-tags-help" : "run-tags-help"}
        />
        <p id="run-tags-help" className="text-xs text-muted-foreground">
          Comma-separated.
        </p>
        {fieldError("tags") && (
          <p id="run-tags-error" className="text-sm text-destructive">
            {fieldError("tags")}
          </p>
        )}
      </div>
      <DialogFooter>
        <Button variant="outline" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" disabled={queue.isPending}>
          <Play /> Queue run
        </Button>
      </DialogFooter>
    </form>
  );
}

function Queued({ run, onClose }: { run: Schemas["RunDetail"]; onClose: () => void }) {
  return (
    <div className="flex flex-col gap-4">
      <DialogHeader>
        <DialogTitle className="flex items-center gap-2">
          <CheckCircle2 className="size-5 text-success" aria-hidden /> Run queued
        </DialogTitle>
        <DialogDescription>
          {run.name} (#{run.id}) is in the queue.
        </DialogDescription>
      </DialogHeader>
      <div className="flex flex-col gap-2 rounded-md border p-3">
        <div className="flex items-center gap-2 text-sm">
          State: <RunStateBadge state={run.state} />
        </div>
        {run.waiting_for ? (
          <WaitingFor reason={run.waiting_for} />
        ) : (
          <p className="text-sm text-muted-foreground">An agent can start it now.</p>
        )}
      </div>
      <DialogFooter>
        <Button variant="outline" onClick={onClose}>
          Close
        </Button>
        <Button asChild>
          <Link href={`/run/?id=${run.id}`}>Open run</Link>
        </Button>
      </DialogFooter>
    </div>
  );
}

/** The "Queue run" dialog for a config (its latest version unless `version` is given; any
 *  version can be picked in the dialog). `warning`: a note shown above the form (e.g. unsaved
 *  edits, which a run would not include). */
export function QueueRunDialog({
  config,
  version,
  warning,
  open,
  onOpenChange,
}: {
  config: QueueableConfig;
  version?: number;
  warning?: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const [queued, setQueued] = useState<Schemas["RunDetail"] | null>(null);
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        if (!next) setQueued(null);
        onOpenChange(next);
      }}
    >
      <DialogContent className="max-w-xl">
        {queued ? (
          <Queued
            run={queued}
            onClose={() => {
              setQueued(null);
              onOpenChange(false);
            }}
          />
        ) : (
          <QueueForm
            config={config}
            version={version}
            warning={warning}
            onQueued={setQueued}
            onCancel={() => onOpenChange(false)}
          />
        )}
      </DialogContent>
    </Dialog>
  );
}
