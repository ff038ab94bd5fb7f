import { Ban, CheckCircle2, Clock, Loader2, XCircle } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import type { RunState } from "@/lib/runs";

const LOOK: Record<RunState, { variant: "secondary" | "default" | "success" | "destructive" | "outline"; icon: typeof Clock }> = {
  queued: { variant: "secondary", icon: Clock },
  running: { variant: "default", icon: Loader2 },
  succeeded: { variant: "success", icon: CheckCircle2 },
  failed: { variant: "destructive", icon: XCircle },
  canceled: { variant: "outline", icon: Ban },
};

/** A run's state as a badge: colour and icon, so it reads without colour too. */
export function RunStateBadge({ state }: { state: RunState }) {
  const { variant, icon: Icon } = LOOK[state];
  return (
    <Badge variant={variant} data-state={state}>
      <Icon className={state === "running" ? "size-3 animate-spin" : "size-3"} aria-hidden />
      {state}
    </Badge>
  );
}
