"use client";

import { Pin, X } from "lucide-react";
import Link from "next/link";
import { Button } from "@/components/ui/button";
import { ApiError, errorMessage } from "@/lib/api/client";
import { cn } from "@/lib/utils";
import type { PickedRun } from "./use-comparison";

/** The picked runs as removable chips in their line colours; the pinned baseline is marked. */
export function RunChips({
  runs,
  baseline,
  hovered,
  onHover,
  onRemove,
}: {
  runs: PickedRun[];
  baseline: number | null;
  hovered: number | null;
  onHover: (runId: number | null) => void;
  onRemove: (runId: number) => void;
}) {
  return (
    <ul className="flex flex-wrap gap-2" aria-label="Runs in this comparison">
      {runs.map((run) => {
        const name = run.detail?.name ?? `run ${run.id}`;
        return (
          <li
            key={run.id}
            onMouseEnter={() => onHover(run.id)}
            onMouseLeave={() => onHover(null)}
            className={cn(
              "flex items-center gap-2 rounded-full border bg-card py-1 pr-1 pl-3 text-sm transition-shadow",
              hovered === run.id && "ring-2 ring-ring",
              run.error && "border-destructive/50",
            )}
          >
            <span className="size-2.5 shrink-0 rounded-full" style={{ background: run.color }} aria-hidden />
            {run.error ? (
              <span className="text-destructive" title={errorMessage(run.error)}>
                run {run.id}: {run.error instanceof ApiError && run.error.status === 404 ? "not found" : "unreadable"}
              </span>
            ) : (
              <Link href={`/run/?id=${run.id}`} className="max-w-56 truncate font-medium hover:underline">
                {name}
              </Link>
            )}
            {baseline === run.id && (
              <span className="flex items-center gap-0.5 text-xs text-muted-foreground">
                <Pin className="size-3" aria-hidden /> baseline
              </span>
            )}
            <Button
              variant="ghost"
              size="icon-sm"
              className="size-6 rounded-full"
              aria-label={`Remove ${name} from the comparison`}
              onClick={() => onRemove(run.id)}
            >
              <X />
            </Button>
          </li>
        );
      })}
    </ul>
  );
}
