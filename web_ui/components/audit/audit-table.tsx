"use client";

import { ChevronRight } from "lucide-react";
import Link from "next/link";
import { Fragment, useState } from "react";
import type { Schemas } from "@/lib/api/client";
import { cn, formatDate, timeAgo } from "@/lib/utils";

type AuditEvent = Schemas["AuditEventOut"];

function EventRow({ event, projectName }: { event: AuditEvent; projectName: (id: number) => string }) {
  const [open, setOpen] = useState(false);
  const detailsId = `audit-${event.id}-details`;
  const failed = event.action.endsWith("Failed");
  return (
    <Fragment>
      <tr className={cn("align-middle", open && "bg-muted/40")}>
        <td className="px-3 py-1.5">
          <button
            type="button"
            aria-expanded={open}
            aria-controls={detailsId}
            aria-label={`${open ? "Hide" : "Show"} details of ${event.action} at ${formatDate(event.created_at)}`}
            onClick={() => setOpen(!open)}
            className="rounded p-0.5 text-muted-foreground hover:bg-accent hover:text-foreground"
          >
            <ChevronRight className={cn("size-4 transition-transform", open && "rotate-90")} aria-hidden />
          </button>
        </td>
        <td className="px-3 py-1.5 whitespace-nowrap" title={formatDate(event.created_at)}>
          {timeAgo(event.created_at)}
        </td>
        <td className="px-3 py-1.5">{event.username || <span className="text-muted-foreground">—</span>}</td>
        <td className={cn("px-3 py-1.5 font-mono text-xs", failed && "text-destructive")}>{event.action}</td>
        <td className="px-3 py-1.5">
          {event.project_id != null ? (
            <Link href={`/project/?id=${event.project_id}`} className="hover:underline">
              {projectName(event.project_id)}
            </Link>
          ) : (
            <span className="text-muted-foreground">—</span>
          )}
        </td>
        <td className="max-w-64 truncate px-3 py-1.5 font-mono text-xs" title={event.target}>
          {event.target}
        </td>
        <td className="px-3 py-1.5 font-mono text-xs">{event.ip}</td>
      </tr>
      {open && (
        <tr id={detailsId}>
          <td colSpan={7} className="bg-muted/40 px-3 pb-3">
            <pre className="max-h-80 overflow-auto rounded-md border bg-background p-3 font-mono text-xs">
              {JSON.stringify(event.details, null, 2)}
            </pre>
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** The audit log's events, newest first; a row opens to the event's JSON details. */
export function AuditTable({ events, projectName }: { events: AuditEvent[]; projectName: (id: number) => string }) {
  return (
    <div className="overflow-x-auto rounded-lg border">
      <table className="w-full text-sm">
        <caption className="sr-only">Audit events</caption>
        <thead className="border-b text-left text-xs text-muted-foreground">
          <tr>
            <th scope="col" className="w-8 px-3 py-2">
              <span className="sr-only">Details</span>
            </th>
            <th scope="col" className="px-3 py-2 font-medium">Time</th>
            <th scope="col" className="px-3 py-2 font-medium">User</th>
            <th scope="col" className="px-3 py-2 font-medium">Action</th>
            <th scope="col" className="px-3 py-2 font-medium">Project</th>
            <th scope="col" className="px-3 py-2 font-medium">Target</th>
            <th scope="col" className="px-3 py-2 font-medium">Address</th>
          </tr>
        </thead>
        <tbody className="divide-y">
          {events.map((event) => (
            <EventRow key={event.id} event={event} projectName={projectName} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
