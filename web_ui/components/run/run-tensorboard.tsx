"use client";

// The run's own TensorBoard, served by the dashboard under /tb/<run>/ and behind its log-in. The
// first request starts it (a few seconds). While the tab is open and the page visible, a
// heartbeat (the same request, once a minute) keeps it from being stopped as idle, even with
// TensorBoard's own reloading turned off, and starts it again if it was.
import { useQuery } from "@tanstack/react-query";
import { ExternalLink, LineChart, RotateCw } from "lucide-react";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { EmptyState, ErrorState, Spinner } from "@/components/ui/states";
import { API_BASE, ApiError, toApiError } from "@/lib/api/client";

/** How often an open TensorBoard tab tells the dashboard it is still in use. */
const HEARTBEAT_MS = 60_000;

/** Where a TensorBoard view of these runs is served (one run, or several compared). */
export function tensorboardUrl(runIds: number[]): string {
  const key = [...new Set(runIds)].sort((a, b) => a - b).join("+");
  return `${API_BASE}/tb/${key}/`;
}

/** Start the view (or find it running) before showing it: its errors (no logs yet, TensorBoard
 *  could not start) are the API's JSON, shown here rather than inside the frame. */
async function startView(url: string): Promise<true> {
  const response = await fetch(`${url}data/runs`, { credentials: "include" });
  if (!response.ok) throw toApiError(response.status, await response.json().catch(() => null));
  return true;
}

export function RunTensorBoard({ runId, runName, live }: { runId: number; runName: string; live: boolean }) {
  const url = tensorboardUrl([runId]);
  const [frameKey, setFrameKey] = useState(0);
  const started = useQuery({
    queryKey: ["tensorboard", url],
    queryFn: () => startView(url),
    retry: false,
    staleTime: HEARTBEAT_MS,
    refetchInterval: HEARTBEAT_MS,
  });

  if (started.isPending) {
    return (
      <div className="flex items-center gap-2 rounded-lg border px-4 py-10 text-sm text-muted-foreground">
        <Spinner /> Starting TensorBoard for this run…
      </div>
    );
  }
  if (started.error && !started.data) {
    const noLogs = started.error instanceof ApiError && started.error.status === 404;
    return noLogs && live ? (
      <EmptyState
        icon={<LineChart className="size-8" />}
        title="No TensorBoard logs yet"
        description="They appear when the trainer logs its first step."
        action={
          <Button size="sm" variant="outline" onClick={() => started.refetch()}>
            Check again
          </Button>
        }
      />
    ) : (
      <ErrorState error={started.error} retry={() => started.refetch()} />
    );
  }
  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <p className="text-sm text-muted-foreground">
          TensorBoard over this run&apos;s <code>tb/</code> logs. It stops after a while unused and
          starts again when opened.
        </p>
        <div className="flex gap-2">
          <Button size="sm" variant="outline" onClick={() => setFrameKey((k) => k + 1)}>
            <RotateCw /> Reload
          </Button>
          <Button size="sm" variant="outline" asChild>
            <a href={url} target="_blank" rel="noopener">
              <ExternalLink /> Full page
            </a>
          </Button>
        </div>
      </div>
      <iframe
        key={frameKey}
        src={url}
        title={`TensorBoard of ${runName}`}
        className="h-[75vh] w-full rounded-lg border bg-white"
      />
    </div>
  );
}
