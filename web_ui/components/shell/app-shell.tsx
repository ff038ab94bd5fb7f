"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { ApiError, setUnauthenticatedHandler } from "@/lib/api/client";
import { liveSocket } from "@/lib/live/socket";
import { useMe } from "@/lib/queries";
import { CommandPalette } from "./command-palette";
import { LiveBanner } from "./live-banner";
import { Sidebar } from "./sidebar";

/** The login page, coming back here (path and query string) afterwards. */
function loginUrl(): string {
  return `/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
}

/** Everything but the login page: the sidebar, the live-connection banner, the palette, and the
 *  check that someone is logged in (any 401 sends the user to log in, then back here). */
export function AppShell({ children }: { children: React.ReactNode }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const me = useMe();
  const unauthenticated = me.error instanceof ApiError && me.error.status === 401;

  useEffect(() => {
    const toLogin = () => {
      liveSocket.close();
      queryClient.clear();
      router.replace(loginUrl());
    };
    setUnauthenticatedHandler(toLogin);
    return () => setUnauthenticatedHandler(null);
  }, [router, queryClient]);

  useEffect(() => {
    // /auth/me may answer before the handler above is in place; both go to the same address.
    if (unauthenticated) router.replace(loginUrl());
  }, [unauthenticated, router]);

  if (me.error && !unauthenticated) {
    return (
      <div className="flex h-full items-center justify-center">
        <p role="alert" className="max-w-md text-center text-sm text-destructive">
          {me.error.message}
        </p>
      </div>
    );
  }

  // The page renders (and starts its own requests) while /auth/me is still on its way: waiting
  // for it first put one more round trip before every page's data. A 401 from any of them goes
  // to the login page all the same.
  return (
    <div className="flex h-full">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:m-2 focus:rounded focus:bg-background focus:p-2"
      >
        Skip to content
      </a>
      {me.data ? (
        <Sidebar me={me.data} />
      ) : (
        <div className="w-56 shrink-0 border-r bg-muted/30" aria-hidden />
      )}
      <div className="flex min-w-0 flex-1 flex-col">
        <LiveBanner />
        {/* relative: the containing block of absolutely positioned content (sr-only labels
            included), which must scroll with it rather than widen the page */}
        <main id="main" className="relative min-h-0 flex-1 overflow-y-auto">
          {unauthenticated ? null : children}
        </main>
      </div>
      <CommandPalette />
    </div>
  );
}
