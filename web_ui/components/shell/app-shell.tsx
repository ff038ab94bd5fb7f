"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { Spinner } from "@/components/ui/states";
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
    if (me.error instanceof ApiError && me.error.status === 401) router.replace(loginUrl());
  }, [me.error, router]);

  if (!me.data) {
    return (
      <div className="flex h-full items-center justify-center">
        {me.error && !(me.error instanceof ApiError && me.error.status === 401) ? (
          <p role="alert" className="max-w-md text-center text-sm text-destructive">
            {me.error.message}
          </p>
        ) : (
          <Spinner className="size-6" />
        )}
      </div>
    );
  }

  return (
    <div className="flex h-full">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:m-2 focus:rounded focus:bg-background focus:p-2"
      >
        Skip to content
      </a>
      <Sidebar me={me.data} />
      <div className="flex min-w-0 flex-1 flex-col">
        <LiveBanner />
        {/* relative: the containing block of absolutely positioned content (sr-only labels
            included), which must scroll with it rather than widen the page */}
        <main id="main" className="relative min-h-0 flex-1 overflow-y-auto">
          {children}
        </main>
      </div>
      <CommandPalette />
    </div>
  );
}
