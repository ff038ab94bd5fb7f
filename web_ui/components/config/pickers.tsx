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

interface RegistryItem {
  id: number;
  label: string;
  /** what picking it writes into the field */
  value: string;
}

/** A registry's select beside the free-text input: picking an item writes its value into the
 *  field; typing leaves the select on "Choose…" unless the text names an item. */
function RegistryPicker({
  spec,
  errors,
  text,
  onChange,
  items,
  picked,
  noun,
  loading,
  placeholder,
}: Pick<FieldProps, "spec" | "errors" | "onChange"> & {
  text: string;
  items: RegistryItem[];
  picked: number | undefined;
  noun: "dataset" | "model";
  loading: boolean;
  placeholder: string;
}) {
  return (
    <div className="flex flex-col gap-2 sm:flex-row">
      <Select
        value={picked !== undefined ? String(picked) : NONE}
        onValueChange={(id) => {
          const item = items.find((i) => String(i.id) === id);
          if (item) onChange(item.value);
        }}
        disabled={!items.length}
      >
        <SelectTrigger aria-label={`Registered ${noun}`} className="sm:max-w-64">
          <SelectValue placeholder={loading ? `Loading ${noun}s…` : `Registered ${noun}`} />
        </SelectTrigger>
        <SelectContent>
          <SelectItem value={NONE} disabled>
            {items.length ? `Choose a ${noun}` : `No registered ${noun}`}
          </SelectItem>
          {items.map((i) => (
            <SelectItem key={i.id} value={String(i.id)}>
              {i.label}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
      <Input
        {...controlAria(spec, errors, true)}
        className="font-mono"
        value={text}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
    </div>
  );
}

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
      <RegistryPicker
        spec={spec}
        errors={errors}
        text={root}
        onChange={onChange}
        items={items.map((d) => ({ id: d.id, label: `${d.name} (${d.path})`, value: d.path }))}
        picked={picked?.id}
        noun="dataset"
        loading={datasets.isPending}
        placeholder="e.g. flowers (a folder with train/ and val/)"
      />
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
      <RegistryPicker
        spec={spec}
        errors={errors}
        text={flavour}
        onChange={onChange}
        items={items.map((m) => ({ id: m.id, label: `${m.name} (${m.kind})`, value: m.source }))}
        picked={picked?.id}
        noun="model"
        loading={models.isPending}
        placeholder="org/model or a folder under the models directory"
      />
    </FieldShell>
  );
}
