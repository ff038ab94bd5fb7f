import * as React from "react";

/** A tab whose feature the backend does not offer yet: says so in one line, no fake UI. */
export function NextRelease({
  icon,
  title,
  description,
}: {
  icon: React.ReactNode;
  title: string;
  description: string;
}) {
  return (
    <div
      className="flex flex-col items-center justify-center gap-2 rounded-lg border border-dashed bg-muted/30 px-6 py-12 text-center"
      data-next-release
    >
      <div className="text-muted-foreground" aria-hidden>
        {icon}
      </div>
      <p className="font-medium">{title}</p>
      <p className="max-w-lg text-sm text-muted-foreground">{description}</p>
    </div>
  );
}
