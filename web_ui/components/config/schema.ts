// Turns the TrainConfig JSON Schema (GET /options/train-config-schema) into the fields of the
// config form. The schema stays the source of truth for types, bounds, defaults and help text;
// this module only adds what a schema cannot say: which section a field belongs in and a label
// people read. A field the map does not know still shows up, under "Other".

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type ConfigData = Record<string, JsonValue | undefined>;

/** One JSON Schema node, as far as the form reads it. */
export interface SchemaNode {
  type?: string;
  enum?: JsonValue[];
  anyOf?: SchemaNode[];
  items?: SchemaNode;
  default?: JsonValue;
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
}

export interface ConfigSchema {
  properties: Record<string, SchemaNode>;
  required?: string[];
}

/** How a field is edited. `json` covers lists, maps and unions a plain input cannot hold. */
export type FieldKind =
  | { kind: "enum"; options: string[] }
  | { kind: "boolean" }
  | { kind: "optional-boolean" }
  | { kind: "number"; integer: boolean }
  | { kind: "text" }
  | { kind: "json" };

export interface FieldSpec {
  key: string;
  label: string;
  help: string;
  required: boolean;
  nullable: boolean;
  defaultValue: JsonValue | undefined;
  min?: number;
  max?: number;
  widget: FieldKind;
  /** What an empty (null) value means, shown as the input's placeholder. */
  nullMeans: string;
}

export interface SectionSpec {
  id: string;
  title: string;
  description: string;
  fields: FieldSpec[];
}

const SECTIONS: { id: string; title: string; description: string; keys: string[] }[] = [
  {
    id: "data",
    title: "Data",
    description: "The dataset and how its images are read.",
    keys: [
      "root",
      "max_datapoints_per_class",
      "class_labels",
      "label2id",
      "id2label",
      "image_check",
      "skip_corrupt_images",
      "cache_images",
      "jpeg_scaled_decode",
    ],
  },
  {
    id: "model",
    title: "Model",
    description: "The network to fine-tune.",
    keys: ["model_flavour", "load_pretrained", "freeze_backbone", "model_suffix"],
  },
  {
    id: "optimisation",
    title: "Optimisation",
    description: "Epochs, batch, optimizer and loss.",
    keys: [
      "epochs",
      "batch_size",
      "lr",
      "optimizer",
      "momentum",
      "weight_decay",
      "max_grad_norm",
      "grad_accum_steps",
      "loss_name",
      "label_smoothing",
      "focal_gamma",
      "class_weights",
      "balanced_sampling",
    ],
  },
  {
    id: "schedule",
    title: "Schedule",
    description: "How the learning rate moves over training.",
    keys: ["scheduler", "warmup_ratio", "min_lr_ratio"],
  },
  {
    id: "augmentation",
    title: "Augmentation",
    description: "What training images go through.",
    keys: ["train_preset", "cpu_color_jitter", "gpu_batch_aug", "mixup_alpha", "cutmix_alpha"],
  },
  {
    id: "evaluation",
    title: "Evaluation and checkpointing",
    description: "Which epoch is best, and what is kept.",
    keys: [
      "eval_topk",
      "monitor_metric",
      "monitor_mode",
      "eval_test",
      "save_per_epoch_checkpoint",
      "checkpoint_every_steps",
      "resume",
      "export_model",
      "eval_report",
    ],
  },
  {
    id: "performance",
    title: "Performance",
    description: "Data loading, precision and device.",
    keys: [
      "num_workers",
      "prefetch_factor",
      "persistent_workers",
      "pin_memory",
      "autocast_dtype",
      "channels_last",
      "compile",
      "device",
    ],
  },
  {
    id: "reproducibility",
    title: "Reproducibility and logging",
    description: "Seeds, determinism and how often progress is logged.",
    keys: ["seed", "deterministic", "log_every_steps", "progress_bar"],
  },
];

/** Fields the dashboard decides (each run gets its own folder under the runs root): the API
 *  refuses any value but the default, so the form does not offer them. */
export const PLACEMENT_FIELDS = ["output_dir", "tb_root", "ckpt_dir", "run_name"];

/** Labels where the schema's title ("Lr", "Model Flavour") is not what people call it. */
const LABELS: Record<string, string> = {
  root: "Dataset",
  model_flavour: "Model",
  lr: "Learning rate",
  max_datapoints_per_class: "Max images per class",
  label2id: "Label → id",
  id2label: "Id → label",
  cpu_color_jitter: "CPU colour jitter",
  gpu_batch_aug: "GPU batch augmentation",
  mixup_alpha: "MixUp alpha",
  cutmix_alpha: "CutMix alpha",
  max_grad_norm: "Max gradient norm",
  grad_accum_steps: "Gradient accumulation steps",
  loss_name: "Loss",
  min_lr_ratio: "Min LR ratio",
  autocast_dtype: "Mixed precision",
  eval_topk: "Top-k accuracies",
  eval_test: "Evaluate on test",
  save_per_epoch_checkpoint: "Keep a checkpoint per epoch",
  checkpoint_every_steps: "Checkpoint every N steps",
  export_model: "Export best model",
  eval_report: "Evaluation report",
  log_every_steps: "Log every N steps",
  pin_memory: "Pin memory",
  num_workers: "Data loader workers",
};

/** Fields whose null is a choice made at run time rather than "none". */
const NULL_MEANS: Record<string, string> = { num_workers: "auto (sized to the machine)" };

/** The values the dashboard accepts for resume (a checkpoint path would read outside the run). */
const DASHBOARD_ENUMS: Record<string, string[]> = { resume: ["auto", "never"] };

function humanize(key: string): string {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "(original) Peak learning rate." -> "Peak learning rate." (the marker is for maintainers). */
function helpText(description: string | undefined): string {
  return (description ?? "").replace(/^\(original\)\s*/, "").trim();
}

function widgetFor(key: string, node: SchemaNode): { widget: FieldKind; nullable: boolean; bounds: SchemaNode } {
  const variants = node.anyOf ?? [node];
  const nonNull = variants.filter((v) => v.type !== "null");
  const nullable = nonNull.length < variants.length;
  const dashboardEnum = DASHBOARD_ENUMS[key];
  if (dashboardEnum) return { widget: { kind: "enum", options: dashboardEnum }, nullable, bounds: node };
  if (nonNull.length !== 1) return { widget: { kind: "json" }, nullable, bounds: node };
  const only = nonNull[0]!;
  if (only.enum) return { widget: { kind: "enum", options: only.enum.map(String) }, nullable, bounds: only };
  switch (only.type) {
    case "boolean":
      return { widget: { kind: nullable ? "optional-boolean" : "boolean" }, nullable, bounds: only };
    case "integer":
    case "number":
      return { widget: { kind: "number", integer: only.type === "integer" }, nullable, bounds: only };
    case "string":
      return { widget: { kind: "text" }, nullable, bounds: only };
    default:
      return { widget: { kind: "json" }, nullable, bounds: only };
  }
}

function fieldSpec(key: string, node: SchemaNode, required: Set<string>): FieldSpec {
  const { widget, nullable, bounds } = widgetFor(key, node);
  return {
    key,
    label: LABELS[key] ?? humanize(key),
    help: helpText(node.description),
    required: required.has(key),
    nullable,
    defaultValue: node.default,
    min: bounds.minimum ?? bounds.exclusiveMinimum,
    max: bounds.maximum ?? bounds.exclusiveMaximum,
    widget,
    nullMeans: NULL_MEANS[key] ?? "none",
  };
}

/** The form's sections, in order; fields the map does not place go to "Other". */
export function buildSections(schema: ConfigSchema): SectionSpec[] {
  const required = new Set(schema.required ?? []);
  const placed = new Set<string>(PLACEMENT_FIELDS);
  const sections: SectionSpec[] = SECTIONS.map((section) => {
    const fields = section.keys
      .filter((key) => key in schema.properties)
      .map((key) => {
        placed.add(key);
        return fieldSpec(key, schema.properties[key]!, required);
      });
    return { id: section.id, title: section.title, description: section.description, fields };
  });
  const other = Object.keys(schema.properties)
    .filter((key) => !placed.has(key))
    .map((key) => fieldSpec(key, schema.properties[key]!, required));
  if (other.length) {
    sections.push({ id: "other", title: "Other", description: "Further settings.", fields: other });
  }
  return sections.filter((s) => s.fields.length > 0);
}

/** The top-level config key an API field error is about: "eval_topk.0" -> "eval_topk";
 *  "data.lr" (a request-body error) -> "lr". */
export function errorKey(field: string): string {
  const parts = field.split(".");
  if (parts[0] === "data" && parts.length > 1) return parts[1]!;
  return parts[0]!;
}

/** The value a field shows: the config's own, else the schema default. */
export function shownValue(spec: FieldSpec, data: ConfigData): JsonValue | undefined {
  return spec.key in data ? data[spec.key] : spec.defaultValue;
}
