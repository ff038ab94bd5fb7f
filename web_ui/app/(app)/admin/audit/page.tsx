"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ChevronLeft, ChevronRight, ScrollText, ShieldAlert } from "lucide-react";
import { Suspense, useState } from "react";
import { AuditFilters, NO_FILTERS, type AuditFilterValues } from "@/components/audit/audit-filters";
import { AuditTable } from "@/components/audit/audit-table";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useDebounced } from "@/lib/hooks/use-debounced";
import { keys, useMe, useProjects } from "@/lib/queries";

const PAGE_SIZE = 50;

/** A datetime-local value (the browser's zone) as ISO 8601, or undefined. */
function isoOrUndefined(local: string): string | undefined {
  if (!local) return undefined;
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}

function Pagination({ offset, shown, total, onOffset }: { offset: number; shown: number; total: number; onOffset: (n: number) => void }) {
  return (
    <nav aria-label="Pages" className="flex items-center justify-between gap-3 text-sm text-muted-foreground">
      <span aria-live="polite">
        {total === 0 ? "No events" : `${offset + 1}–${offset + shown} of ${total}`}
      </span>
      <div className="flex gap-2">
        <Button variant="outline" size="sm" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - PAGE_SIZE))}>
          <ChevronLeft /> Newer
        </Button>
        <Button variant="outline" size="sm" disabled={offset + shown >= total} onClick={() => onOffset(offset + PAGE_SIZE)}>
          Older <ChevronRight />
        </Button>
      </div>
    </nav>
  );
}

function AuditLog() {
  const [filters, setFilters] = useState<AuditFilterValues>(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  // typing waits for a pause; the project and times apply at once (they are picked, not typed)
  const typed = useDebounced({ username: filters.username.trim(), action: filters.action.trim() }, 300);
  const query = {
    username: typed.username || undefined,
    action: typed.action || undefined,
    project_id: filters.project ? Number(filters.project) : undefined,
    since: isoOrUndefined(filters.since),
    until: isoOrUndefined(filters.until),
  };
  const events = useQuery({
    queryKey: keys.audit({ ...query, offset }),
    queryFn: () =>
      unwrap(api.GET("/audit", { params: { query: { ...query, limit: PAGE_SIZE, offset, order: "desc" } } })),
    placeholderData: keepPreviousData,
  });
  const projects = useProjects();
  const names = new Map(projects.data?.items.map((p) => [p.id, p.name]));
  const projectName = (id: number) => names.get(id) ?? `project ${id}`;
  return (
    <>
      <AuditFilters
        value={filters}
        onChange={(next) => {
          setFilters(next);
          setOffset(0);
        }}
      />
      {events.isPending ? (
        <LoadingRows rows={8} />
      ) : events.error && !events.data ? (
        <ErrorState error={events.error} retry={() => events.refetch()} />
      ) : events.data.items.length === 0 ? (
        <EmptyState
          icon={<ScrollText className="size-8" />}
          title="No events match"
          description="Try fewer filters or a wider time range."
        />
      ) : (
        <div className="flex flex-col gap-3" aria-busy={events.isPlaceholderData || undefined}>
          <AuditTable events={events.data.items} projectName={projectName} />
          <Pagination offset={offset} shown={events.data.items.length} total={events.data.total} onOffset={setOffset} />
        </div>
      )}
    </>
  );
}

function Audit() {
  const me = useMe();
  return (
    <>
      <PageHeader
        crumbs={[{ label: "Admin", href: "/admin/" }, { label: "Audit log" }]}
        title="Audit log"
        description="Every change made through the API, and every login: who, what, where from."
      />
      <PageBody>
        {me.isPending ? (
          <LoadingRows rows={8} />
        ) : me.error && !me.data ? (
          <ErrorState error={me.error} retry={() => me.refetch()} />
        ) : me.data.is_admin ? (
          <AuditLog />
        ) : (
          <EmptyState
            icon={<ShieldAlert className="size-8" />}
            title="The audit log is for admins"
            description={`You are signed in as ${me.data.username}, who is not an admin.`}
          />
        )}
      </PageBody>
    </>
  );
}

export default function AuditPage() {
  return (
    <Suspense>
      <Audit />
    </Suspense>
  );
}
