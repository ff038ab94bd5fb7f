"use client";

// The config form, generated from the TrainConfig schema: one card per section, a field per
// property, the widget chosen by its type (see schema.ts). The dataset, model and monitored
// metric get pickers fed by the registries and GET /options.
import { Card } from "@/components/ui/card";
import type { Schemas } from "@/lib/api/client";
import { cn } from "@/lib/utils";
import {
  ResetFieldContext,
  BooleanField,
  EnumField,
  JsonField,
  NumberField,
  OptionalBooleanField,
  TextField,
  type FieldProps,
} from "./fields";
import { DatasetPicker, ModelPicker } from "./pickers";
import { shownValue, type ConfigData, type FieldSpec, type JsonValue, type SectionSpec } from "./schema";

export type FieldErrors = Record<string, string[]>;

function Field({
  spec,
  props,
  projectId,
  options,
}: {
  spec: FieldSpec;
  props: FieldProps;
  projectId: number;
  options?: Schemas["Options"];
}) {
  if (spec.key === "root") return <DatasetPicker {...props} />;
  if (spec.key === "model_flavour") return <ModelPicker {...props} projectId={projectId} />;
  if (spec.key === "monitor_metric") {
    return (
      <>
        <TextField {...props} list="monitor-metrics" />
        <datalist id="monitor-metrics">
          {options?.monitor_metrics.map((m) => <option key={m} value={m} />)}
        </datalist>
      </>
    );
  }
  if (spec.key === "train_preset") {
    const described = new Map(options?.train_presets.map((p) => [p.value, p.description]));
    return <EnumField {...props} describe={(v) => described.get(v)} />;
  }
  switch (spec.widget.kind) {
    case "enum":
      return <EnumField {...props} />;
    case "boolean":
      return <BooleanField {...props} />;
    case "optional-boolean":
      return <OptionalBooleanField {...props} />;
    case "number":
      return <NumberField {...props} />;
    case "text":
      return <TextField {...props} />;
    case "json":
      return <JsonField {...props} />;
  }
}

/** Section ids with how many errors each holds, for the section nav. */
export function errorsBySection(sections: SectionSpec[], errors: FieldErrors): Map<string, number> {
  const counts = new Map<string, number>();
  for (const section of sections) {
    const n = section.fields.filter((f) => (errors[f.key]?.length ?? 0) > 0).length;
    if (n) counts.set(section.id, n);
  }
  return counts;
}

export function ConfigForm({
  sections,
  data,
  errors,
  onFieldChange,
  onLocalError,
  projectId,
  options,
}: {
  sections: SectionSpec[];
  data: ConfigData;
  errors: FieldErrors;
  onFieldChange: (key: string, value: JsonValue | undefined) => void;
  onLocalError: (key: string, message: string | null) => void;
  projectId: number;
  options?: Schemas["Options"];
}) {
  const counts = errorsBySection(sections, errors);
  return (
    <ResetFieldContext.Provider
      value={(key) => {
        // The default itself, not an absent key: the saved version holds every key, so this
        // compares equal to it when that is what it was.
        const spec = sections.flatMap((s) => s.fields).find((f) => f.key === key);
        onFieldChange(key, spec?.defaultValue);
      }}
    >
      <div className="grid gap-6 lg:grid-cols-[12rem_1fr]">
        <nav aria-label="Config sections" className="hidden lg:block">
          <ul className="sticky top-4 flex flex-col gap-0.5 text-sm">
            {sections.map((s) => (
              <li key={s.id}>
                <a
                  href={`#section-${s.id}`}
                  className="flex items-center justify-between rounded-md px-2 py-1 text-muted-foreground hover:bg-accent hover:text-accent-foreground"
                >
                  {s.title}
                  {counts.get(s.id) && (
                    <span className="rounded bg-destructive/12 px-1.5 text-xs font-medium text-destructive">
                      {counts.get(s.id)} {counts.get(s.id) === 1 ? "error" : "errors"}
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="flex min-w-0 flex-col gap-4">
          {sections.map((section) => (
            <Card
              key={section.id}
              id={`section-${section.id}`}
              className={cn("scroll-mt-4 p-4", counts.get(section.id) && "border-destructive/50")}
            >
              <section aria-labelledby={`section-${section.id}-title`} className="flex flex-col gap-4">
                <div>
                  <h2 id={`section-${section.id}-title`} className="font-semibold">
                    {section.title}
                  </h2>
                  <p className="text-sm text-muted-foreground">{section.description}</p>
                </div>
                <div className="grid gap-x-6 gap-y-5 md:grid-cols-2">
                  {section.fields.map((spec) => (
                    <div
                      key={spec.key}
                      className={cn(
                        (spec.key === "root" || spec.key === "model_flavour") && "md:col-span-2",
                      )}
                    >
                      <Field
                        spec={spec}
                        projectId={projectId}
                        options={options}
                        props={{
                          spec,
                          value: shownValue(spec, data),
                          errors: errors[spec.key] ?? [],
                          onChange: (value) => onFieldChange(spec.key, value),
                          onLocalError: (message) => onLocalError(spec.key, message),
                        }}
                      />
                    </div>
                  ))}
                </div>
              </section>
            </Card>
          ))}
        </div>
      </div>
    </ResetFieldContext.Provider>
  );
}
