"use client";

import { ImageOff } from "lucide-react";
import { useState } from "react";
import { API_ROOT } from "@/lib/api/client";
import { cn } from "@/lib/utils";

/** The thumbnail route's URL. An <img> on the dashboard's origin sends the session cookie, so
 *  the authenticated route needs nothing more. */
export function thumbnailUrl(datasetId: number, path: string, size: number): string {
  const query = new URLSearchParams({ path, size: String(size) });
  return `${API_ROOT}/datasets/${datasetId}/thumbnail?${query}`;
}

/** One image of a dataset, scaled by the server; a file it cannot decode shows as such. */
export function Thumbnail({
  datasetId,
  path,
  size,
  alt,
  className,
}: {
  datasetId: number;
  path: string;
  size: number;
  alt: string;
  className?: string;
}) {
  const [failed, setFailed] = useState(false);
  // Images smaller than their box (8x8 digits) are enlarged with hard pixel edges, not a blur.
  const [tiny, setTiny] = useState(false);
  if (failed) {
    return (
      <span
        role="img"
        aria-label={`${alt} (could not be previewed)`}
        title="This image could not be previewed"
        className={cn("flex items-center justify-center rounded-md bg-muted text-muted-foreground", className)}
      >
        <ImageOff className="size-5" />
      </span>
    );
  }
  return (
    // A plain <img>: the static export has no image optimiser, and the server already scales it.
    // eslint-disable-next-line @next/next/no-img-element
    <img
      src={thumbnailUrl(datasetId, path, size)}
      alt={alt}
      loading="lazy"
      decoding="async"
      onError={() => setFailed(true)}
      onLoad={(e) => setTiny(e.currentTarget.naturalWidth * 2 < e.currentTarget.clientWidth)}
      className={cn("rounded-md bg-muted object-contain", tiny && "[image-rendering:pixelated]", className)}
    />
  );
}
