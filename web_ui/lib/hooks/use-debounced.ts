"use client";

import { useEffect, useState } from "react";

/** `value`, once it has stopped changing for `ms` (what to ask the server for while someone
 *  types: one request per pause, not one per keystroke). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
