"use client";

import { useNow } from "@/lib/hooks/use-now";
import { Progress } from "@/components/ui/progress";
import type { Run } from "@/lib/runs";
import { formatDuration } from "@/lib/utils";

interface ProgressReport {
  epoch?: number;
  epochs?: number;
  step?: number;
  total_steps?: number;
  eta_s?: number;
  complete?: boolean;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The trainer's newest report, typed (the API keeps it as free JSON). */
export function progressOf(run: Run): ProgressReport {
  const p = run.progress as Record<string, unknown>;
  return {
    epoch: num(p.epoch),
    epochs: num(p.epochs),
    step: num(p.step),
    total_steps: num(p.total_steps),
    eta_s: num(p.eta_s),
    complete: p.complete === true,
  };
}

/** 0..1, or null when the run has not reported yet. */
export function progressFraction(run: Run): number | null {
  const p = progressOf(run);
  if (p.complete) return 1;
  if (p.step != null && p.total_steps) return Math.min(1, p.step / p.total_steps);
  if (p.epoch != null && p.epochs) return Math.min(1, p.epoch / p.epochs);
  return null;
}

/** "2/5": the epoch being trained, 1-based (the trainer reports a 0-based index), or all of
 *  them once the run completed; "" when the trainer does not report epochs. */
export function epochText(run: Run): string {
  const p = progressOf(run);
  if (!p.epochs) return "";
  const current = p.complete ? p.epochs : Math.min(p.epochs, (p.epoch ?? 0) + 1);
  return `${current}/${p.epochs}`;
}

export function progressText(run: Run): string {
  const p = progressOf(run);
  const fraction = progressFraction(run);
  if (fraction == null) return "";
  const parts = [`${Math.round(fraction * 100)}%`];
  if (p.epochs) parts.push(`epoch ${epochText(run)}`);
  if (run.state === "running" && p.eta_s != null) parts.push(`ETA ${formatDuration(p.eta_s)}`);
  return parts.join(" · ");
}

/** A bar and the epoch; while running, the time left the trainer estimates. */
export function ProgressCell({ run }: { run: Run }) {
  const fraction = progressFraction(run);
  if (fraction == null) return <span className="text-muted-foreground">—</span>;
  const p = progressOf(run);
  const eta = run.state === "running" && p.eta_s != null ? formatDuration(p.eta_s) : null;
  return (
    <div className="flex min-w-0 flex-col gap-0.5" title={progressText(run)}>
      <Progress value={fraction} label={`Progress of ${run.name}`} className="h-1.5" />
      <span className="truncate text-xs text-muted-foreground tabular-nums">
        {Math.round(fraction * 100)}%{p.epochs ? ` · ep ${epochText(run)}` : ""}
        {eta && ` · ${eta} left`}
      </span>
    </div>
  );
}

/** Wall time; a running run's keeps counting between refreshes. */
export function DurationCell({ run, fetchedAt }: { run: Run; fetchedAt: number }) {
  const running = run.state === "running" && run.summary.duration_s != null;
  const now = useNow(running);
  const seconds =
    run.summary.duration_s == null
      ? null
      : run.summary.duration_s + (running ? Math.max(0, (now - fetchedAt) / 1000) : 0);
  return <span className="tabular-nums">{formatDuration(seconds)}</span>;
}
