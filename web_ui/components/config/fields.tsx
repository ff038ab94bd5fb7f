"use client";

// The inputs of the config form, one per FieldKind. Each is a real <label>led control with its
// help text and its API error wired through aria-describedby, so a screen reader hears the
// problem when it lands on the field.
import { RotateCcw } from "lucide-react";
import { createContext, useContext, useEffect, useState } from "react";
import { Button } from "@/components/ui/button";
import { Input, Textarea } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Switch } from "@/components/ui/switch";
import { cn } from "@/lib/utils";
import type { FieldSpec, JsonValue } from "./schema";

/** The DOM id of a field's control (the error summary links to it). */
export function fieldId(key: string): string {
  return `field-${key}`;
}

export interface FieldProps {
  spec: FieldSpec;
  value: JsonValue | undefined;
  /** undefined removes the key (the schema default applies) */
  onChange: (value: JsonValue | undefined) => void;
  errors: string[];
  /** a problem found in the browser (text that is not JSON) */
  onLocalError?: (message: string | null) => void;
}

/** The value differs from the schema default (so a reset means something). */
function isModified(spec: FieldSpec, value: JsonValue | undefined): boolean {
  if (spec.required || spec.defaultValue === undefined || value === undefined) return false;
  return JSON.stringify(value) !== JSON.stringify(spec.defaultValue);
}

/** How the form puts a field back to its default (a context rather than a prop threaded
 *  through every widget); without it, no reset button shows. */
export const ResetFieldContext = createContext<((key: string) => void) | null>(null);

/** Label, the control, the help text and the errors: the frame every field shares. */
export function FieldShell({
  spec,
  errors,
  children,
  extraHelp,
  inline = false,
  value,
}: {
  spec: FieldSpec;
  errors: string[];
  children: React.ReactNode;
  extraHelp?: React.ReactNode;
  inline?: boolean;
  /** the field's value, to offer a reset when it is not the default */
  value?: JsonValue;
}) {
  const id = fieldId(spec.key);
  const reset = useContext(ResetFieldContext);
  const modified = isModified(spec, value);
  return (
    <div className="flex flex-col gap-1.5" data-field={spec.key}>
      <div className={cn("flex gap-3", inline ? "items-center justify-between" : "flex-col gap-1.5")}>
        {/* The label holds only the label's words (its accessible name); the required mark and
            the JSON key sit beside it. */}
        <div className="flex items-baseline gap-2">
          <Label htmlFor={id} id={`${id}-label`}>
            {spec.label}
          </Label>
          {spec.required && (
            <span className="text-sm text-destructive" aria-hidden>
              *
            </span>
          )}
          <code className="text-xs text-muted-foreground" aria-hidden>
            {spec.key}
          </code>
          {modified && reset && (
            <Button
              variant="ghost"
              size="icon-sm"
              className="size-5 self-center text-muted-foreground"
              // Its name leaves out the field's label (described by it instead): only the field
              // itself answers to that label.
              aria-label={`Restore default (${JSON.stringify(spec.defaultValue)})`}
              aria-describedby={`${id}-label`}
              title={`Reset to the default: ${JSON.stringify(spec.defaultValue)}`}
              onClick={() => reset(spec.key)}
            >
              <RotateCcw className="size-3" />
            </Button>
          )}
        </div>
        {children}
      </div>
      {(spec.help || extraHelp) && (
        <p id={`${id}-help`} className="text-xs text-muted-foreground">
          {spec.help}
          {extraHelp && <span className="block">{extraHelp}</span>}
        </p>
      )}
      {errors.length > 0 && (
        <p id={`${id}-error`} className="text-sm text-destructive">
          {errors.join("; ")}
        </p>
      )}
    </div>
  );
}

/** aria attributes for a field's control. */
export function controlAria(spec: FieldSpec, errors: string[], hasHelp = !!spec.help) {
  const id = fieldId(spec.key);
  const describedBy = [errors.length ? `${id}-error` : null, hasHelp ? `${id}-help` : null]
    .filter(Boolean)
    .join(" ");
  return {
    id,
    "aria-invalid": errors.length ? true : undefined,
    "aria-describedby": describedBy || undefined,
    "aria-required": spec.required || undefined,
  } as const;
}

function display(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  return String(value);
}

/** A number: what the user typed is kept as typed (so "1e-" or "0." survive), and a value that is
 *  not a number goes to the API as text, which names the problem on the field. */
function parseNumber(text: string, spec: FieldSpec): JsonValue | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return spec.nullable && spec.defaultValue === null ? null : undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

export function NumberField({ spec, value, onChange, errors }: FieldProps) {
  const [text, setText] = useState(display(value));
  // Follow changes made elsewhere (the JSON tab, a reset) without clobbering what is typed.
  useEffect(() => {
    if (parseNumber(text, spec) !== (value ?? undefined)) setText(display(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only outside changes of value matter
  }, [value]);
  const integer = spec.widget.kind === "number" && spec.widget.integer;
  return (
    <FieldShell spec={spec} errors={errors} value={value}>
      <Input
        {...controlAria(spec, errors)}
        type="text"
        inputMode={integer ? "numeric" : "decimal"}
        className="max-w-xs font-mono"
        value={text}
        placeholder={spec.defaultValue == null ? spec.nullMeans : `default ${String(spec.defaultValue)}`}
        onChange={(e) => {
          setText(e.target.value);
          onChange(parseNumber(e.target.value, spec));
        }}
      />
    </FieldShell>
  );
}

export function TextField({
  spec,
  value,
  onChange,
  errors,
  list,
  extraHelp,
}: FieldProps & { list?: string; extraHelp?: React.ReactNode }) {
  return (
    <FieldShell spec={spec} errors={errors} extraHelp={extraHelp} value={value}>
      <Input
        {...controlAria(spec, errors, !!spec.help || !!extraHelp)}
        className="font-mono"
        value={display(value)}
        list={list}
        placeholder={spec.defaultValue == null || spec.defaultValue === "" ? undefined : `default ${String(spec.defaultValue)}`}
        onChange={(e) => {
          const text = e.target.value;
          onChange(text === "" ? (spec.required ? "" : spec.nullable ? null : undefined) : text);
        }}
      />
    </FieldShell>
  );
}

export function EnumField({
  spec,
  value,
  onChange,
  errors,
  describe,
}: FieldProps & { describe?: (option: string) => string | undefined }) {
  const options = spec.widget.kind === "enum" ? spec.widget.options : [];
  const current = display(value ?? spec.defaultValue);
  // A value saved under another spelling (an alias the API accepted) is still shown.
  const all = current && !options.includes(current) ? [current, ...options] : options;
  return (
    <FieldShell spec={spec} errors={errors} extraHelp={describe?.(current)} value={value}>
      <Select value={current} onValueChange={(v) => onChange(v)}>
        <SelectTrigger {...controlAria(spec, errors, !!spec.help || !!describe?.(current))} className="max-w-xs">
          <SelectValue placeholder="Choose…" />
        </SelectTrigger>
        <SelectContent>
          {all.map((option) => (
            <SelectItem key={option} value={option}>
              {option}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
    </FieldShell>
  );
}

export function BooleanField({ spec, value, onChange, errors }: FieldProps) {
  return (
    <FieldShell spec={spec} errors={errors} inline value={value}>
      <Switch
        {...controlAria(spec, errors)}
        checked={Boolean(value ?? spec.defaultValue)}
        onCheckedChange={(checked) => onChange(checked)}
      />
    </FieldShell>
  );
}

const TRI_STATE = [
  { value: "default", label: "Default (decided at run time)" },
  { value: "on", label: "On" },
  { value: "off", label: "Off" },
];

/** A boolean that may also be null (null = let the trainer decide). */
export function OptionalBooleanField({ spec, value, onChange, errors }: FieldProps) {
  const current = value === true ? "on" : value === false ? "off" : "default";
  return (
    <FieldShell spec={spec} errors={errors} value={value}>
      <Select value={current} onValueChange={(v) => onChange(v === "on" ? true : v === "off" ? false : null)}>
        <SelectTrigger {...controlAria(spec, errors)} className="max-w-xs">
          <SelectValue />
        </SelectTrigger>
        <SelectContent>
          {TRI_STATE.map((o) => (
            <SelectItem key={o.value} value={o.value}>
              {o.label}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
    </FieldShell>
  );
}

/** Lists, maps and unions (eval_topk, class_weights, label2id): edited as a JSON value. An empty
 *  box means the default, and a null default shows as an empty box rather than "null". */
export function JsonField({ spec, value, onChange, errors, onLocalError }: FieldProps) {
  const toText = (v: JsonValue | undefined) =>
    v === undefined || (v === null && spec.defaultValue == null) ? "" : JSON.stringify(v);
  const [text, setText] = useState(toText(value));
  const [parseError, setParseError] = useState<string | null>(null);
  useEffect(() => {
    let typed: string | null = null;
    try {
      typed = toText(text.trim() ? (JSON.parse(text) as JsonValue) : undefined);
    } catch {
      typed = null;
    }
    // Keep what is being typed (even half-written JSON) unless the value changed elsewhere.
    if (typed !== toText(value) && !parseError) setText(toText(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only outside changes of value matter
  }, [value]);
  const shown = parseError ? [parseError, ...errors] : errors;
  return (
    <FieldShell
      spec={spec}
      errors={shown}
      value={value}
      extraHelp={`A JSON value${spec.defaultValue != null ? `; default ${JSON.stringify(spec.defaultValue)}` : ""}. Leave empty for the default.`}
    >
      <Textarea
        {...controlAria(spec, shown, true)}
        rows={1}
        className="min-h-9"
        value={text}
        spellCheck={false}
        onChange={(e) => {
          const next = e.target.value;
          setText(next);
          if (!next.trim()) {
            setParseError(null);
            onLocalError?.(null);
            onChange(undefined);
            return;
          }
          try {
            const parsed = JSON.parse(next) as JsonValue;
            setParseError(null);
            onLocalError?.(null);
            onChange(parsed);
          } catch {
            const message = "is not valid JSON (e.g. [1, 5] or {\"cat\": 0})";
            setParseError(message);
            onLocalError?.(message);
          }
        }}
      />
    </FieldShell>
  );
}
