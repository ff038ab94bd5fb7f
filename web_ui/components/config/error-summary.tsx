"use client";

// The problems that stop a save, listed at the top of the editor: each links to its field (or
// to the JSON tab for a key the form does not show), so a long form never hides an error.
import { AlertTriangle } from "lucide-react";
import { useEffect, useRef } from "react";
import { fieldId } from "./fields";

export interface SummaryItem {
  key: string;
  label: string;
  message: string;
  /** false: the key has no form field (unknown key, placement field): fix it in JSON */
  inForm: boolean;
}

export function ErrorSummary({
  title,
  message,
  items,
  onGoTo,
}: {
  title: string;
  /** the API's message when no field is named (a conflict, a path outside the datasets root) */
  message?: string | null;
  items: SummaryItem[];
  onGoTo: (item: SummaryItem) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // Bring the summary into view when a save fails, as GOV.UK-style forms do.
  useEffect(() => {
    ref.current?.scrollIntoView({ block: "nearest" });
  }, [title, message]);
  return (
    <div
      ref={ref}
      role="alert"
      aria-labelledby="config-errors-title"
      className="flex flex-col gap-2 rounded-lg border border-destructive/50 bg-destructive/5 p-4"
    >
      <p id="config-errors-title" className="flex items-center gap-2 font-medium text-destructive">
        <AlertTriangle className="size-4" aria-hidden /> {title}
      </p>
      {message && <p className="text-sm whitespace-pre-line">{message}</p>}
      {items.length > 0 && (
        <ul className="flex list-disc flex-col gap-1 pl-5 text-sm">
          {items.map((item) => (
            <li key={`${item.key}-${item.message}`}>
              <a
                href={item.inForm ? `#${fieldId(item.key)}` : "#config-json"}
                className="font-medium underline underline-offset-2"
                onClick={(e) => {
                  e.preventDefault();
                  onGoTo(item);
                }}
              >
                {item.label}
              </a>
              : {item.message}
              {!item.inForm && <span className="text-muted-foreground"> (edit it in the JSON / YAML tab)</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
