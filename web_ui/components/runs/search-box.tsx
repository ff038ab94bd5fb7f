"use client";

import { useEffect, useState, type RefObject } from "react";
import { Input } from "@/components/ui/input";

const DEBOUNCE_MS = 200;

/** The name search: typed text stays as typed (the URL follows a moment later, one request
 *  per pause instead of one per key); a change of the URL from elsewhere ("clear filters",
 *  back) shows up in the box unless the user is typing in it. */
export function SearchBox({
  value,
  onChange,
  inputRef,
}: {
  value: string | null;
  onChange: (value: string | null) => void;
  inputRef: RefObject<HTMLInputElement | null>;
}) {
  const [text, setText] = useState(value ?? "");
  useEffect(() => {
    if (document.activeElement !== inputRef.current) setText(value ?? "");
  }, [value, inputRef]);
  useEffect(() => {
    if ((text || null) === value) return;
    const timer = setTimeout(() => onChange(text || null), DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // `value` and `onChange` change with every URL change; only typing starts a new wait.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);
  return (
    <Input
      ref={inputRef}
      type="search"
      aria-label="Search runs"
      placeholder="Search names  ( / )"
      className="w-56"
      value={text}
      onChange={(e) => setText(e.target.value)}
    />
  );
}
