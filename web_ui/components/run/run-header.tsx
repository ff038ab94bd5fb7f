"use client";

import { useNow } from "@/lib/hooks/use-now";
import { AlertTriangle, Hourglass } from "lucide-react";
import { progressOf } from "@/components/runs/run-progress-cell";
import { Progress } from "@/components/ui/progress";
import type { Schemas } from "@/lib/api/client";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { formatDate, formatDuration, formatMetric, timeAgo } from "@/lib/utils";
import { RunTags } from "./run-tags";

type Run = Schemas["RunDetail"];

function Fact({ label, children, title }: { label: string; children: React.ReactNode; title?: string }) {
  return (
    <div className="flex min-w-0 flex-col">
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="truncate text-sm" title={title}>
        {children}
      </dd>
    </div>
  );
}

/** What the run is doing now: progress with ETA (live), where it runs, how long it took, why it
 *  waits or what went wrong. */
export function RunFacts({ run, fetchedAt }: { run: Run; fetchedAt: number }) {
  const { can } = useProjectRole(run.project_id);
  const running = run.state === "running";
  const now = useNow(running);
  const progress = progressOf(run);
  const fraction =
    progress.total_steps && progress.step != null ? progress.step / progress.total_steps : null;
  // summary.duration_s is as of the fetch: a running run's keeps ticking from there.
  const liveDuration =
    running && run.summary.duration_s != null
      ? run.summary.duration_s + Math.max(0, now - fetchedAt) / 1000
      : run.summary.duration_s;
  const monitor = run.summary.monitor;
  return (
    <div className="flex flex-col gap-4">
      {(running || fraction != null) && (
        <div className="flex flex-col gap-1.5" aria-live="polite">
          <div className="flex flex-wrap items-baseline justify-between gap-2 text-sm">
            <span>
              {progress.complete
                ? `Done: ${progress.epochs ?? "all"} epochs`
                : progress.epoch != null && progress.epochs
                  ? // the trainer counts epochs from 0
                    `Epoch ${Math.min(progress.epoch + 1, progress.epochs)} of ${progress.epochs}`
                  : "Starting"}
              {progress.step != null && progress.total_steps ? (
                <span className="text-muted-foreground">
                  {" "}
                  · step {progress.step.toLocaleString()} / {progress.total_steps.toLocaleString()}
                </span>
              ) : null}
            </span>
            {running && progress.eta_s != null && (
              <span className="text-muted-foreground" data-testid="run-eta">
                about {formatDuration(progress.eta_s)} left
              </span>
            )}
          </div>
          <Progress value={fraction} label="Training progress" />
        </div>
      )}
      <dl className="grid grid-cols-2 gap-x-6 gap-y-3 sm:grid-cols-3 lg:grid-cols-6">
        <Fact label="Attempt">
          {run.attempt}
          {run.restarts > 0 && (
            <span className="text-muted-foreground">
              {" "}
              ({run.restarts} restart{run.restarts === 1 ? "" : "s"} of {run.max_restarts})
            </span>
          )}
        </Fact>
        <Fact label="Agent">{run.agent_name ?? (run.target_agent ? `${run.target_agent} (target)` : "—")}</Fact>
        <Fact label="Duration">{formatDuration(liveDuration)}</Fact>
        <Fact label="Created" title={formatDate(run.created_at)}>
          {timeAgo(run.created_at, now)}
        </Fact>
        <Fact label="Started" title={formatDate(run.claimed_at)}>
          {run.claimed_at ? timeAgo(run.claimed_at, now) : "—"}
        </Fact>
        <Fact label="Finished" title={formatDate(run.finished_at)}>
          {run.finished_at ? timeAgo(run.finished_at, now) : "—"}
        </Fact>
        {monitor && (
          <Fact label={`Best ${monitor.name}`}>
            {formatMetric(monitor.best)}
            {monitor.best_step != null && (
              <span className="text-muted-foreground"> at step {monitor.best_step}</span>
            )}
          </Fact>
        )}
        <Fact label="GPUs">{run.gpu_count === 0 ? "CPU" : run.gpu_count}</Fact>
        <Fact
          label="Config"
          title={run.config_version != null ? run.config_hash : "No config in the dashboard: imported, or its config was deleted"}
        >
          {run.config_version != null ? `version ${run.config_version}` : "—"}
        </Fact>
      </dl>
      <div className="flex flex-col gap-1">
        <span className="text-xs text-muted-foreground">Tags</span>
        <RunTags runId={run.id} tags={run.tags} readOnly={!can.edit} />
      </div>
      {run.state === "queued" && run.waiting_for && (
        <div className="flex items-start gap-2 rounded-lg border bg-muted/40 p-3 text-sm" role="status">
          <Hourglass className="mt-0.5 size-4 shrink-0 text-muted-foreground" aria-hidden />
          <div>
            <p className="font-medium">Waiting</p>
            <p className="text-muted-foreground">{run.waiting_for}</p>
          </div>
        </div>
      )}
      {(run.error || run.earlier_errors.length > 0) && (
        <div className="flex flex-col gap-2 rounded-lg border border-destructive/40 bg-destructive/5 p-3 text-sm" role="alert">
          <div className="flex items-center gap-2 font-medium text-destructive">
            <AlertTriangle className="size-4" aria-hidden />
            {run.error ? "What went wrong" : "Earlier attempts failed"}
          </div>
          {run.error && <pre className="font-mono text-xs whitespace-pre-wrap">{run.error}</pre>}
          {run.earlier_errors.length > 0 && (
            <details>
              <summary className="cursor-pointer text-muted-foreground">
                {run.earlier_errors.length} earlier attempt{run.earlier_errors.length === 1 ? "" : "s"} failed
              </summary>
              <ul className="mt-2 flex flex-col gap-2">
                {run.earlier_errors.map((e) => (
                  <li key={e.attempt}>
                    <span className="text-xs text-muted-foreground">Attempt {e.attempt}</span>
                    <pre className="font-mono text-xs whitespace-pre-wrap">{e.error}</pre>
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
    </div>
  );
}
