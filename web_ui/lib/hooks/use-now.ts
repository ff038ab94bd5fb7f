"use client";

import { useEffect, useState } from "react";

/** The current time, renewed every second while `active`: for running durations and "x s ago"
 *  texts that must move between data refreshes. */
export function useNow(active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}
