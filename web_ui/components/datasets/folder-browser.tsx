"use client";

import { useQuery } from "@tanstack/react-query";
import { Check, ChevronRight, Database, Folder, FolderOpen, HardDrive } from "lucide-react";
import Link from "next/link";
import { useMemo, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { keys } from "@/lib/queries";
import { RegisterDatasetDialog } from "./register-dialog";

type Listing = Schemas["FolderListingOut"];

function imageCount(count: number, capped: boolean): string {
  return `${count.toLocaleString()}${capped ? "+" : ""} image${count === 1 && !capped ? "" : "s"}`;
}

/** Registered datasets by their folder (relative to DATASETS_DIR, as the browser lists it), so a
 *  folder already registered links to its dataset instead of offering "Register" again. One page
 *  of the API's largest size: a folder past it just offers "Register", which answers 409. Under
 *  the datasets key, so registering one refreshes it. */
function useRegisteredFolders(): Map<string, number> {
  const registered = useQuery({
    queryKey: [...keys.datasets, "registered-folders"],
    queryFn: () => unwrap(api.GET("/datasets", { params: { query: { limit: 200 } } })),
  });
  return useMemo(
    () => new Map((registered.data?.items ?? []).map((d) => [d.path.replace(/\/+$/, ""), d.id])),
    [registered.data],
  );
}

function RegisteredBadge({ id, name }: { id: number; name: string }) {
  return (
    <Link
      href={`/dataset/?id=${id}`}
      aria-label={`${name} is registered: open its dataset`}
      className="rounded-md focus-visible:outline-2 focus-visible:outline-ring"
    >
      <Badge variant="secondary">
        <Check className="size-3" aria-hidden /> registered
      </Badge>
    </Link>
  );
}

/** The listed folder itself holds train/ and val/ (the parent's listing says it of its entries). */
function isDatasetFolder(listing: Listing): boolean {
  const names = new Set(listing.entries.map((e) => e.name));
  return listing.path !== "" && names.has("train") && names.has("val");
}

/** The path as breadcrumbs: DATASETS_DIR, then each folder, each one a button that goes there. */
function FolderCrumbs({ path, onOpen }: { path: string; onOpen: (path: string) => void }) {
  const parts = path.split("/").filter(Boolean);
  return (
    <nav aria-label="Folder">
      <ol className="flex flex-wrap items-center gap-1 text-sm">
        <li>
          <Button variant="ghost" size="sm" onClick={() => onOpen("")} aria-current={parts.length ? undefined : "location"}>
            <HardDrive aria-hidden /> DATASETS_DIR
          </Button>
        </li>
        {parts.map((part, i) => {
          const to = parts.slice(0, i + 1).join("/");
          const last = i === parts.length - 1;
          return (
            <li key={to} className="flex items-center gap-1">
              <ChevronRight className="size-3.5 text-muted-foreground" aria-hidden />
              <Button variant="ghost" size="sm" onClick={() => onOpen(to)} aria-current={last ? "location" : undefined}>
                {part}
              </Button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function EntryRow({
  entry,
  onOpen,
  onRegister,
  registeredId,
}: {
  entry: Listing["entries"][number];
  onOpen: (path: string) => void;
  onRegister: (path: string) => void;
  registeredId: number | undefined;
}) {
  const Icon = entry.is_dataset ? Database : Folder;
  return (
    <li className="flex items-center gap-3 px-4 py-2.5 hover:bg-muted/40">
      <Icon className="size-4 shrink-0 text-muted-foreground" aria-hidden />
      <button
        type="button"
        className="min-w-0 flex-1 truncate text-left font-medium hover:underline focus-visible:outline-2 focus-visible:outline-ring"
        onClick={() => onOpen(entry.path)}
        aria-label={`Open folder ${entry.name}`}
      >
        {entry.name}
      </button>
      {entry.is_dataset && <Badge variant="success">train/ + val/</Badge>}
      <span className="hidden w-28 text-right text-sm text-muted-foreground tabular-nums sm:block">
        {entry.image_count || entry.image_count_capped ? imageCount(entry.image_count, entry.image_count_capped) : ""}
      </span>
      {registeredId != null ? (
        <RegisteredBadge id={registeredId} name={entry.name} />
      ) : entry.is_dataset ? (
        <Button size="sm" onClick={() => onRegister(entry.path)} aria-label={`Register ${entry.name}`}>
          Register
        </Button>
      ) : (
        <span className="w-[74px]" aria-hidden />
      )}
    </li>
  );
}

/** DATASETS_DIR as a navigable list of folders. A folder holding train/ and val/ is a dataset
 *  and can be registered from here (which scans it). */
export function FolderBrowser({ path, onOpen }: { path: string; onOpen: (path: string) => void }) {
  const [registering, setRegistering] = useState<string | null>(null);
  const registered = useRegisteredFolders();
  const listing = useQuery({
    queryKey: ["datasets-browse", path],
    queryFn: () => unwrap(api.GET("/datasets/browse", { params: { query: { path } } })),
    placeholderData: (previous) => previous,
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle>Folders in DATASETS_DIR</CardTitle>
        <CardDescription>
          A dataset is a folder with <code className="font-mono">train/</code> and <code className="font-mono">val/</code>{" "}
          (and optionally <code className="font-mono">test/</code>), each holding one folder of images per class.
        </CardDescription>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <FolderCrumbs path={path} onOpen={onOpen} />
        {listing.isPending ? (
          <LoadingRows rows={4} />
        ) : listing.error && !listing.data ? (
          <ErrorState error={listing.error} retry={path ? () => onOpen("") : () => listing.refetch()} />
        ) : (
          <>
            <div className="flex flex-wrap gap-2">
              {listing.data.parent != null && (
                <Button variant="outline" size="sm" onClick={() => onOpen(listing.data.parent ?? "")}>
                  <FolderOpen aria-hidden /> Up one folder
                </Button>
              )}
              {registered.has(listing.data.path) ? (
                <RegisteredBadge id={registered.get(listing.data.path)!} name={listing.data.path} />
              ) : (
                isDatasetFolder(listing.data) && (
                  <Button size="sm" onClick={() => setRegistering(listing.data.path)}>
                    <Database aria-hidden /> Register this folder
                  </Button>
                )
              )}
            </div>
            {listing.data.entries.length === 0 ? (
              <EmptyState
                icon={<Folder className="size-8" />}
                title={path ? "No folders in here" : "DATASETS_DIR has no folders yet"}
                description={
                  listing.data.image_count
                    ? `This folder holds ${imageCount(listing.data.image_count, listing.data.image_count_capped)} but no sub-folders: a dataset needs train/ and val/ class folders.`
                    : "Copy a dataset into DATASETS_DIR (train/ and val/ with one folder per class), then come back."
                }
              />
            ) : (
              <ul className="divide-y rounded-md border" aria-label="Folders">
                {listing.data.entries.map((entry) => (
                  <EntryRow
                    key={entry.path}
                    entry={entry}
                    onOpen={onOpen}
                    onRegister={setRegistering}
                    registeredId={registered.get(entry.path)}
                  />
                ))}
              </ul>
            )}
            {listing.data.truncated && (
              <p className="text-sm text-muted-foreground">Only the first folders are listed; this folder holds more.</p>
            )}
          </>
        )}
      </CardContent>
      {registering != null && (
        <RegisterDatasetDialog
          path={registering}
          open
          onOpenChange={(open) => !open && setRegistering(null)}
        />
      )}
    </Card>
  );
}
