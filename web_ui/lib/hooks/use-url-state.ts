"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback } from "react";

/** One query-string parameter as state, so that a view (filters, selected runs, chart options)
 *  can be shared by its URL. Setting null removes it. Uses history.replaceState: typing in a
 *  filter does not add a history entry per key. Must be used under <Suspense>. */
export function useUrlState(name: string): [string | null, (value: string | null) => void] {
  const params = useSearchParams();
  const value = params.get(name);
  const set = useCallback(
    (next: string | null) => {
      const current = new URLSearchParams(window.location.search);
      if (next === null || next === "") current.delete(name);
      else current.set(name, next);
      const query = current.toString();
      window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}`);
    },
    [name],
  );
  return [value, set];
}

/** Navigate within the app keeping the rest of the query string. */
export function useReplaceQuery() {
  const router = useRouter();
  const pathname = usePathname();
  return useCallback(
    (changes: Record<string, string | null>) => {
      const current = new URLSearchParams(window.location.search);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null || v === "") current.delete(k);
        else current.set(k, v);
      }
      const query = current.toString();
      router.replace(`${pathname}${query ? `?${query}` : ""}`, { scroll: false });
    },
    [router, pathname],
  );
}
