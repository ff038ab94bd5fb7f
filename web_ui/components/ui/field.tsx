// A labelled form control with its help text and its error: the block every dialog form repeats.
// The control gets aria-invalid while there is an error, and aria-describedby naming the help and
// the error (ids `${id}-help` and `${id}-error`), so a screen reader hears the problem on the field.
import * as React from "react";
import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";

/** What Field hands its control: spread it onto the Input (or Textarea). */
export interface FieldControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
}

export function Field({
  id,
  label,
  description,
  error,
  alert = false,
  className,
  children,
}: {
  id: string;
  label: React.ReactNode;
  /** help text under the control */
  description?: React.ReactNode;
  /** the message shown under the control; none when null or empty */
  error?: string | null;
  /** announce the error as it appears (role="alert"), for a dialog's main field */
  alert?: boolean;
  className?: string;
  children: (control: FieldControlProps) => React.ReactNode;
}) {
  const helpId = description ? `${id}-help` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [helpId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={cn("flex flex-col gap-1.5", className)}>
      <Label htmlFor={id}>{label}</Label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy })}
      {description && (
        <p id={helpId} className="text-xs text-muted-foreground">
          {description}
        </p>
      )}
      {error && (
        <p id={errorId} role={alert ? "alert" : undefined} className="text-sm text-destructive">
          {error}
        </p>
      )}
    </div>
  );
}
