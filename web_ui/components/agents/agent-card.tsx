"use client";

import { useQueryClient } from "@tanstack/react-query";
import { CirclePause, CirclePlay, Server } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { keys } from "@/lib/queries";
import { formatDate, formatDuration } from "@/lib/utils";
import { GpuUsage, parseGpus } from "./gpu-usage";

type Agent = Schemas["AgentOut"];

/** "alive · heartbeat 3 s ago": the server's age of the last heartbeat plus the time since the
 *  list was fetched, so the count moves between refetches. */
function Liveness({ agent, fetchedAt, now }: { agent: Agent; fetchedAt: number; now: number }) {
  const age = agent.last_heartbeat_at ? agent.seconds_since_heartbeat + Math.max(0, now - fetchedAt) / 1000 : null;
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <span className="inline-flex items-center gap-1.5 font-medium">
        <span
          className={agent.alive ? "size-2.5 rounded-full bg-success" : "size-2.5 rounded-full bg-muted-foreground/60"}
          aria-hidden
        />
        {agent.alive ? "Online" : "Offline"}
      </span>
      <span className="text-muted-foreground" title={formatDate(agent.last_heartbeat_at)}>
        {age == null ? "never sent a heartbeat" : `last heartbeat ${formatDuration(age)} ago`}
      </span>
    </div>
  );
}

function DrainButton({ agent, canDrain }: { agent: Agent; canDrain: boolean }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!canDrain) return null;
  const run = agent.current_run;
  const act = async (drain: boolean) => {
    try {
      const path = drain ? "/agents/{agent_id}/drain" : "/agents/{agent_id}/undrain";
      await unwrap(api.POST(path, { params: { path: { agent_id: agent.id } } }));
      toast.success(drain ? `${agent.name} drained: it takes no new runs` : `${agent.name} takes runs again`);
      queryClient.invalidateQueries({ queryKey: keys.agents });
    } catch (e) {
      toast.error(errorMessage(e));
    }
  };
  if (agent.drained) {
    return (
      <Button
        variant="outline"
        size="sm"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await act(false);
          setBusy(false);
        }}
      >
        <CirclePlay aria-hidden /> Undrain
      </Button>
    );
  }
  return (
    <>
      <Button variant="outline" size="sm" onClick={() => setConfirming(true)}>
        <CirclePause aria-hidden /> Drain
      </Button>
      <Confirm
        open={confirming}
        onOpenChange={setConfirming}
        title={`Drain ${agent.name}?`}
        description={
          <>
            It stops taking queued runs and stays online, idle, until undrained.{" "}
            {run ? (
              <>
                Its current run, <strong>{run.name}</strong>, is handed back at its next heartbeat: the trainer saves a
                checkpoint and stops, and the run is queued again (no restart is charged) to resume from that checkpoint on
                another agent, or here after undrain.
              </>
            ) : (
              "It has no run right now."
            )}
          </>
        }
        confirmLabel="Drain agent"
        onConfirm={() => act(true)}
      />
    </>
  );
}

export function AgentCard({
  agent,
  fetchedAt,
  now,
  canDrain,
}: {
  agent: Agent;
  fetchedAt: number;
  now: number;
  canDrain: boolean;
}) {
  const run = agent.current_run;
  return (
    <Card aria-label={`Agent ${agent.name}`} role="region" className={agent.alive ? undefined : "opacity-80"}>
      <CardHeader className="flex-row items-start justify-between gap-3">
        <div className="flex min-w-0 items-start gap-3">
          <Server className="mt-0.5 size-5 shrink-0 text-muted-foreground" aria-hidden />
          <div className="min-w-0">
            <h2 className="truncate text-base font-semibold">{agent.name}</h2>
            <p className="truncate text-sm text-muted-foreground">
              {agent.hostname} · {agent.device} · v{agent.version}
            </p>
          </div>
        </div>
        <div className="flex items-center gap-2">
          {agent.drained && <Badge variant="warning">drained</Badge>}
          <DrainButton agent={agent} canDrain={canDrain} />
        </div>
      </CardHeader>
      <CardContent className="flex flex-col gap-4">
        <Liveness agent={agent} fetchedAt={fetchedAt} now={now} />
        <div className="text-sm">
          {run ? (
            <p className="flex flex-wrap items-center gap-2">
              <span className="text-muted-foreground">Training</span>
              <Link href={`/run/?id=${run.id}`} className="font-medium hover:underline">
                {run.name}
              </Link>
              <RunStateBadge state={run.state} />
              {run.attempt > 1 && <span className="text-muted-foreground">attempt {run.attempt}</span>}
            </p>
          ) : (
            <p className="text-muted-foreground">
              {agent.drained ? "Idle (drained: takes no runs until undrained)." : agent.alive ? "Idle, waiting for a queued run." : "No run."}
            </p>
          )}
        </div>
        <GpuUsage key={run?.id ?? 0} gpus={parseGpus(agent.gpus)} runId={agent.alive && run ? run.id : null} />
      </CardContent>
    </Card>
  );
}
