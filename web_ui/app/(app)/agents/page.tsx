"use client";

import { useNow } from "@/lib/hooks/use-now";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Cpu } from "lucide-react";
import { Suspense } from "react";
import { AgentCard } from "@/components/agents/agent-card";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useTopic } from "@/lib/live/hooks";
import { keys, useMe } from "@/lib/queries";

/** Heartbeats are not events: liveness is refetched on this period; registration, drain and
 *  run changes come at once over the "agents" and "runs" topics. */
const REFETCH_MS = 5_000;

function Agents() {
  const queryClient = useQueryClient();
  const me = useMe();
  const now = useNow();
  const agents = useQuery({
    // Under keys.agents (one invalidation refreshes it) but apart from the queue dialog's unsorted
    // list of agents, which shares that prefix.
    queryKey: [...keys.agents, { sort: "name" }],
    queryFn: () => unwrap(api.GET("/agents", { params: { query: { limit: 200, sort: "name", order: "asc" } } })),
    refetchInterval: REFETCH_MS,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.agents });
  useTopic("agents", refresh);
  // A run an agent claims or finishes changes its card's current run.
  useTopic("runs", refresh);
  const items = agents.data?.items ?? [];
  const online = items.filter((a) => a.alive).length;
  return (
    <>
      <PageHeader
        title="Agents"
        description={
          agents.data
            ? `${online} of ${items.length} online · each agent trains one run at a time on its device`
            : "The machines that train queued runs."
        }
      />
      <PageBody>
        {agents.isPending ? (
          <LoadingRows rows={3} />
        ) : agents.error && !agents.data ? (
          <ErrorState error={agents.error} retry={() => agents.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState
            icon={<Cpu className="size-8" />}
            title="No agent has registered yet"
            description={
              <>
                Queued runs wait for an agent. Start one on a machine that sees the shared folders and the database:{" "}
                <code className="font-mono text-foreground">visionyard agent</code> (one per GPU, with{" "}
                <code className="font-mono text-foreground">--gpu-index N</code>), or{" "}
                <code className="font-mono text-foreground">visionyard up</code> for the dashboard and a local agent together.
              </>
            }
          />
        ) : (
          <div className="grid gap-4 lg:grid-cols-2 2xl:grid-cols-3">
            {items.map((agent) => (
              <AgentCard
                key={agent.id}
                agent={agent}
                fetchedAt={agents.dataUpdatedAt}
                now={now}
                canDrain={me.data?.is_admin ?? false}
              />
            ))}
          </div>
        )}
        {agents.data && !me.data?.is_admin && items.length > 0 && (
          <p className="text-sm text-muted-foreground">Draining an agent is for admins.</p>
        )}
      </PageBody>
    </>
  );
}

export default function AgentsPage() {
  return (
    <Suspense>
      <Agents />
    </Suspense>
  );
}
