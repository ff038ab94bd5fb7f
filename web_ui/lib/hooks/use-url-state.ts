"use client";

import { useSearchParams } from "next/navigation";
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
