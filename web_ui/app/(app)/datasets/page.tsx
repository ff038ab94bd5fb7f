"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { DatasetList } from "@/components/datasets/dataset-list";
import { FolderBrowser } from "@/components/datasets/folder-browser";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Input } from "@/components/ui/input";
import { useIsAdmin } from "@/lib/hooks/use-project-role";
import { useSearchShortcut } from "@/lib/hooks/use-search-shortcut";
import { useUrlState } from "@/lib/hooks/use-url-state";

function Datasets() {
  const [q, setQ] = useUrlState("q");
  const router = useRouter();
  const params = useSearchParams();
  const path = params.get("path");
  // Opening a folder is navigation: a history entry each, so Back goes up again.
  const openFolder = (next: string) => {
    const query = new URLSearchParams(window.location.search);
    if (next) query.set("path", next);
    else query.delete("path");
    const qs = query.toString();
    router.push(`/datasets/${qs ? `?${qs}` : ""}`, { scroll: false });
  };
  const searchRef = useSearchShortcut();
  // Registering (and so browsing DATASETS_DIR), analysing and deleting are for admins.
  const isAdmin = useIsAdmin();
  return (
    <>
      <PageHeader
        title="Datasets"
        description={
          isAdmin
            ? "Image folders under DATASETS_DIR, registered once and used by any project's configs."
            : "Image folders under DATASETS_DIR, used by any project's configs. An admin registers them."
        }
      />
      <PageBody>
        <section aria-labelledby="registered-heading" className="flex flex-col gap-3">
          <div className="flex flex-wrap items-center justify-between gap-3">
            <h2 id="registered-heading" className="text-lg font-semibold">
              Registered
            </h2>
            <Input
              ref={searchRef}
              type="search"
              aria-label="Search datasets"
              placeholder="Search datasets  ( / )"
              className="max-w-xs"
              defaultValue={params.get("q") ?? ""}
              onChange={(e) => setQ(e.target.value || null)}
            />
          </div>
          <DatasetList q={q ?? ""} />
        </section>
        {isAdmin && (
          <section aria-label="Browse DATASETS_DIR" className="flex flex-col gap-3">
            <FolderBrowser path={path ?? ""} onOpen={openFolder} />
          </section>
        )}
      </PageBody>
    </>
  );
}

export default function DatasetsPage() {
  return (
    <Suspense>
      <Datasets />
    </Suspense>
  );
}
