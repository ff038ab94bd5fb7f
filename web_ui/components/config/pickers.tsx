"use client";

// The dataset and model fields: a path or id typed freely, or picked from the registries (the
// dataset registry, the project's model registry), so nobody has to remember a folder name.
import Link from "next/link";
import { Input } from "@/components/ui/input";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { controlAria, FieldShell, type FieldProps } from "./fields";
import { useDatasets, useProjectModels } from "./queries";

/** A stored root is absolute (resolved under DATASETS_DIR); a registered path is relative. */
function sameFolder(value: string, relative: string): boolean {
  return value === relative || value.endsWith(`/${relative.replace(/^\/+|\/+$/g, "")}`);
}

const NONE = "__none__";

export function DatasetPicker({ spec, value, onChange, errors }: FieldProps) {
  const datasets = useDatasets();
  const root = typeof value === "string" ? value : "";
  const items = datasets.data?.items ?? [];
  const picked = items.find((d) => root && sameFolder(root, d.path));
  return (
    <FieldShell
      spec={spec}
      errors={errors}
      extraHelp={
        datasets.data && items.length === 0 ? (
          <>
            No dataset is registered yet: type a folder under DATASETS_DIR, or{" "}
            <Link href="/datasets/" className="underline">
              register one
            </Link>
            .
          </>
        ) : (
          "Pick a registered dataset, or type a folder relative to DATASETS_DIR."
        )
      }
    >
      <div className="flex flex-col gap-2 sm:flex-row">
        <Select
          value={picked ? String(picked.id) : NONE}
          onValueChange={(id) => {
            const dataset = items.find((d) => String(d.id) === id);
            if (dataset) onChange(dataset.path);
          }}
          disabled={!items.length}
        >
          <SelectTrigger aria-label="Registered dataset" className="sm:max-w-64">
            <SelectValue placeholder={datasets.isPending ? "Loading datasets…" : "Registered dataset"} />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={NONE} disabled>
              {items.length ? "Choose a dataset" : "No registered dataset"}
            </SelectItem>
            {items.map((d) => (
              <SelectItem key={d.id} value={String(d.id)}>
                {d.name} ({d.path})
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
        <Input
          {...controlAria(spec, errors, true)}
          className="font-mono"
          value={root}
          placeholder="e.g. flowers (a folder with train/ and val/)"
          onChange={(e) => onChange(e.target.value)}
        />
      </div>
    </FieldShell>
  );
}

export function ModelPicker({ spec, value, onChange, errors, projectId }: FieldProps & { projectId: number }) {
  const models = useProjectModels(projectId);
  const flavour = typeof value === "string" ? value : "";
  const items = models.data?.items ?? [];
  const picked = items.find((m) => flavour && (m.source === flavour || sameFolder(flavour, m.source)));
  return (
    <FieldShell
      spec={spec}
      errors={errors}
      extraHelp={
        <>
          Pick one of the project&apos;s{" "}
          <Link href={`/project/models/?id=${projectId}`} className="underline">
            registered models
          </Link>
          , or type a Hugging Face id such as <code>google/vit-base-patch16-224</code>.
        </>
      }
    >
      <div className="flex flex-col gap-2 sm:flex-row">
        <Select
          value={picked ? String(picked.id) : NONE}
          onValueChange={(id) => {
            const model = items.find((m) => String(m.id) === id);
            if (model) onChange(model.source);
          }}
          disabled={!items.length}
        >
          <SelectTrigger aria-label="Registered model" className="sm:max-w-64">
            <SelectValue placeholder={models.isPending ? "Loading models…" : "Registered model"} />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={NONE} disabled>
              {items.length ? "Choose a model" : "No registered model"}
            </SelectItem>
            {items.map((m) => (
              <SelectItem key={m.id} value={String(m.id)}>
                {m.name} ({m.kind})
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
        <Input
          {...controlAria(spec, errors, true)}
          className="font-mono"
          value={flavour}
          placeholder="org/model or a folder under the models directory"
          onChange={(e) => onChange(e.target.value)}
        />
      </div>
    </FieldShell>
  );
}
