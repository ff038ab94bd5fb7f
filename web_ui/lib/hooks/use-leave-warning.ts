"use client";

import { useEffect } from "react";

/** While `active`, leaving the page asks first: closing or reloading the tab (the browser's own
 *  prompt) and following a link inside the app (a confirm, since client-side navigation never
 *  fires `beforeunload`). Modified clicks (a new tab) and downloads leave nothing behind. */
export function useLeaveWarning(active: boolean, message: string) {
  useEffect(() => {
    if (!active) return;
    const onUnload = (e: BeforeUnloadEvent) => e.preventDefault();
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const link = e.target instanceof Element ? e.target.closest("a[href]") : null;
      if (!(link instanceof HTMLAnchorElement) || link.target === "_blank" || link.hasAttribute("download")) return;
      const to = new URL(link.href, window.location.href);
      const here = window.location;
      if (to.origin !== here.origin) return; // leaving the site: beforeunload asks
      if (to.pathname === here.pathname && to.search === here.search) return;
      if (!window.confirm(message)) {
        // Capture phase on the document: the link's own handler (Next's router) never runs.
        e.preventDefault();
        e.stopPropagation();
      }
    };
    window.addEventListener("beforeunload", onUnload);
    document.addEventListener("click", onClick, true);
    return () => {
      window.removeEventListener("beforeunload", onUnload);
      document.removeEventListener("click", onClick, true);
    };
  }, [active, message]);
}
