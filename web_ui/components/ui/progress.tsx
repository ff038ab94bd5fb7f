"use client";

import * as ProgressPrimitive from "@radix-ui/react-progress";
import { cn } from "@/lib/utils";

/** value: 0..1 (null = unknown). */
export function Progress({
  value,
  className,
  label,
}: {
  value: number | null;
  className?: string;
  label: string;
}) {
  const percent = value == null ? null : Math.max(0, Math.min(100, value * 100));
  return (
    <ProgressPrimitive.Root
      aria-label={label}
      value={percent}
      className={cn("relative h-1.5 w-full overflow-hidden rounded-full bg-muted", className)}
    >
      <ProgressPrimitive.Indicator
        className="h-full bg-primary transition-[width] duration-500"
        style={{ width: `${percent ?? 0}%` }}
      />
    </ProgressPrimitive.Root>
  );
}
