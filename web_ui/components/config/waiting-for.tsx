import { Hourglass } from "lucide-react";
import { cn } from "@/lib/utils";

/** The API writes commands in backticks (`visionyard agent`): show them as code. */
function withCode(text: string) {
  return text.split(/`([^`]+)`/).map((part, i) => (i % 2 ? <code key={i} className="rounded bg-muted px-1 text-xs">{part}</code> : part));
}

/** Why a queued run has not started (the API's words, which say what to do), or nothing. */
export function WaitingFor({ reason, className }: { reason: string | null | undefined; className?: string }) {
  if (!reason) return null;
  return (
    <p className={cn("flex items-start gap-1.5 text-sm text-muted-foreground", className)} data-testid="waiting-for">
      <Hourglass className="mt-0.5 size-3.5 shrink-0" aria-hidden />
      <span>
        <span className="font-medium text-foreground">Waiting: </span>
        {withCode(reason)}
      </span>
    </p>
  );
}
