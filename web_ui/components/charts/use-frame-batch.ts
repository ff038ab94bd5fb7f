"use client";

import { useCallback, useEffect, useRef } from "react";

/** Collect items (live points) and hand them over once per animation frame, so a burst of
 *  events becomes one chart update. `flush` gets every item pushed since the last frame. */
export function useFrameBatch<T>(flush: (items: T[]) => void): (item: T) => void {
  const pending = useRef<T[]>([]);
  const frame = useRef<number | null>(null);
  const latest = useRef(flush);
  useEffect(() => {
    latest.current = flush;
  });
  useEffect(
    () => () => {
      if (frame.current != null) cancelAnimationFrame(frame.current);
    },
    [],
  );
  return useCallback((item: T) => {
    pending.current.push(item);
    if (frame.current != null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      const items = pending.current;
      pending.current = [];
      latest.current(items);
    });
  }, []);
}
