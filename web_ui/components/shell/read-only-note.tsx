import { Eye } from "lucide-react";
import type * as React from "react";

/** Says why a page offers no changes: the signed-in user's role in the project does not allow
 *  them (the API would refuse them anyway). */
export function ReadOnlyNote({ children }: { children: React.ReactNode }) {
  return (
    <p role="note" className="flex items-start gap-2 rounded-md border bg-muted/40 px-3 py-2 text-sm text-muted-foreground">
      <Eye className="mt-0.5 size-4 shrink-0" aria-hidden />
      <span>{children}</span>
    </p>
  );
}
