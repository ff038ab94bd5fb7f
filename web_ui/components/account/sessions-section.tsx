"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { LogOut, MonitorSmartphone } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { useSignedOut } from "@/lib/hooks/use-signed-out";
import { keys } from "@/lib/queries";
import { formatDate, timeAgo } from "@/lib/utils";
import { shortUserAgent } from "./user-agent";

type Session = Schemas["SessionOut"];

function When({ label, iso }: { label: string; iso: string }) {
  return (
    <span title={formatDate(iso)}>
      {label} {timeAgo(iso)}
    </span>
  );
}

function SessionRow({ session }: { session: Session }) {
  const queryClient = useQueryClient();
  const signedOut = useSignedOut();
  const [ending, setEnding] = useState(false);
  const device = shortUserAgent(session.user_agent);
  return (
    <li className="flex flex-wrap items-center gap-3 px-4 py-3">
      <MonitorSmartphone className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-medium" title={session.user_agent}>
            {device}
          </span>
          <code className="font-mono text-xs text-muted-foreground">{session.ip}</code>
          {session.current && <Badge variant="success">this browser</Badge>}
        </div>
        <p className="text-sm text-muted-foreground">
          <When label="signed in" iso={session.created_at} />
          {" · "}
          {session.last_seen_at ? <When label="active" iso={session.last_seen_at} /> : "not used since"}
          {" · "}
          <When label="expires" iso={session.expires_at} />
        </p>
      </div>
      <Button
        variant="outline"
        size="sm"
        onClick={() => setEnding(true)}
        aria-label={session.current ? "Log out this browser" : `End session ${device} from ${session.ip}`}
      >
        {session.current ? "Log out" : "End"}
      </Button>
      <Confirm
        open={ending}
        onOpenChange={setEnding}
        title={session.current ? "Log out this browser?" : `End the session of ${device}?`}
        description={
          session.current
            ? "You are signed out here and go to the login page."
            : `That browser (${session.ip}) is signed out at its next request. Your other sessions stay.`
        }
        confirmLabel={session.current ? "Log out" : "End session"}
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/sessions/{session_id}", { params: { path: { session_id: session.id } } }));
            if (session.current) return signedOut();
            toast.success(`Ended the session of ${device}`);
            queryClient.invalidateQueries({ queryKey: keys.sessions });
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </li>
  );
}

function LogOutEverywhere() {
  const signedOut = useSignedOut();
  return (
    <Confirm
      trigger={
        <Button variant="outline">
          <LogOut /> Log out everywhere
        </Button>
      }
      title="Log out everywhere?"
      description="Every session of yours ends, this browser's too: you go to the login page and sign in again where you need to. API tokens are not affected."
      confirmLabel="Log out everywhere"
      onConfirm={async () => {
        try {
          await unwrap(api.POST("/sessions/revoke-all"));
          signedOut();
        } catch (e) {
          toast.error(errorMessage(e));
        }
      }}
    />
  );
}

/** The signed-in user's login sessions: where they are signed in, and ending them. */
export function SessionsSection() {
  const sessions = useQuery({
    queryKey: keys.sessions,
    queryFn: () => unwrap(api.GET("/sessions", { params: { query: { limit: 200 } } })),
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-3">
        <div>
          <CardTitle>Sessions</CardTitle>
          <CardDescription>The browsers signed in as you. End any you do not recognise.</CardDescription>
        </div>
        <LogOutEverywhere />
      </CardHeader>
      <CardContent>
        {sessions.isPending ? (
          <LoadingRows rows={2} />
        ) : sessions.error && !sessions.data ? (
          <ErrorState error={sessions.error} retry={() => sessions.refetch()} />
        ) : sessions.data.items.length === 0 ? (
          <EmptyState icon={<MonitorSmartphone className="size-8" />} title="No sessions" />
        ) : (
          <ul className="divide-y rounded-md border" aria-label="Sessions">
            {sessions.data.items.map((session) => (
              <SessionRow key={session.id} session={session} />
            ))}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}
