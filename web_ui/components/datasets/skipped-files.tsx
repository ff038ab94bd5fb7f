import { AlertTriangle, CheckCircle2 } from "lucide-react";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import type { Schemas } from "@/lib/api/client";

type Skipped = Schemas["SkippedFile"];

/** Images the scan could not read: left out of the counts, listed with the reason. */
export function SkippedFiles({ skipped }: { skipped: Skipped[] }) {
  if (skipped.length === 0) {
    return (
      <p className="flex items-center gap-2 text-sm text-muted-foreground">
        <CheckCircle2 className="size-4 text-success" aria-hidden /> Every image could be read.
      </p>
    );
  }
  return (
    <Card className="border-warning/50">
      <CardHeader>
        <CardTitle className="flex items-center gap-2">
          <AlertTriangle className="size-4 text-warning" aria-hidden />
          {skipped.length.toLocaleString()} unreadable image{skipped.length === 1 ? "" : "s"}
        </CardTitle>
        <CardDescription>
          Left out of the counts above. A run leaves them out only with <code className="font-mono">skip_corrupt_images</code>;
          otherwise it stops before training. Fix or remove them, then re-analyse.
        </CardDescription>
      </CardHeader>
      <CardContent>
        <ul className="max-h-72 divide-y overflow-y-auto rounded-md border text-sm">
          {skipped.map((file) => (
            <li key={file.path} className="flex flex-col gap-0.5 px-3 py-2">
              <code className="font-mono break-all">{file.path}</code>
              <span className="text-muted-foreground">{file.reason}</span>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}
