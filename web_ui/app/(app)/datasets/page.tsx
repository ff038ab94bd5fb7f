"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { DatasetList } from "@/components/datasets/dataset-list";
import { FolderBrowser } from "@/components/datasets/folder-browser";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Input } from "@/components/ui/input";
import { useSearchShortcut } from "@/lib/hooks/use-search-shortcut";
import { useUrlState } from "@/lib/hooks/use-url-state";

function Datasets() {
  const [q, setQ] = useUrlState("q");
  const [path, setPath] = useUrlState("path");
  const searchRef = useSearchShortcut();
  const params = useSearchParams();
  return (
    <>
      <PageHeader
        title="Datasets"
        description="Image folders under DATASETS_DIR, registered once and used by any project's configs."
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
        <section aria-label="Browse DATASETS_DIR" className="flex flex-col gap-3">
          <FolderBrowser path={path ?? ""} onOpen={(next) => setPath(next || null)} />
        </section>
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
