"use client";

import { Filter, X } from "lucide-react";
import { useEffect, useState } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";

/** Filter expressions ("val/acc@1 >= 0.8, lr < 0.01"), applied on Enter. The API judges
 *  them: its message for a wrong one is shown right under the box. */
export function FilterBox({
  value,
  onApply,
  error,
}: {
  value: string | null;
  onApply: (text: string | null) => void;
  error: string | null;
}) {
  const [text, setText] = useState(value ?? "");
  // The URL changed under us (back button, a chip, "clear filters"): show what applies.
  useEffect(() => setText(value ?? ""), [value]);
  return (
    <form
      className="flex min-w-72 flex-1 flex-col gap-1"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(text.trim() || null);
      }}
    >
      <div className="flex gap-2">
        <div className="relative flex-1">
          <Filter className="pointer-events-none absolute top-2.5 left-2.5 size-4 text-muted-foreground" aria-hidden />
          <Input
            aria-label="Filter runs"
            placeholder="Filter runs…"
            className="pr-8 pl-8 font-mono text-xs"
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "filter-error" : "filter-help"}
            spellCheck={false}
          />
          {text && (
            <button
              type="button"
              aria-label="Clear the filter"
              className="absolute top-2 right-2 rounded-sm p-0.5 text-muted-foreground hover:text-foreground"
              onClick={() => {
                setText("");
                onApply(null);
              }}
            >
              <X className="size-4" />
            </button>
          )}
        </div>
        <Button type="submit" variant="secondary">
          Apply
        </Button>
      </div>
      {error ? (
        <p id="filter-error" role="alert" className="text-sm text-destructive">
          {error}
        </p>
      ) : (
        <p id="filter-help" className="text-xs text-muted-foreground">
          Comma-separated conditions, e.g. <code className="font-mono">val/acc@1 &gt;= 0.8, lr &lt; 0.01</code> or{" "}
          <code className="font-mono">param:optimizer=sgd</code>; Enter applies.
        </p>
      )}
    </form>
  );
}
