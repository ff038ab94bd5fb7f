"use client";

// The raw config as JSON or YAML, kept in sync with the form: every edit that parses to an
// object becomes the form's data at once; text that does not parse is reported (with where) and
// blocks saving until it is fixed. YAML is read and written as YAML 1.1, the dialect the CLI's
// PyYAML reads, so a downloaded file trains from the terminal as it is (`yes` stays a string,
// not a boolean). The YAML library is loaded only when someone switches to YAML.
import { Copy, Download } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/input";
import { cn } from "@/lib/utils";
import type { ConfigData } from "./schema";

export type TextFormat = "json" | "yaml";
type YamlModule = typeof import("yaml");

const FORMAT_NAME: Record<TextFormat, string> = { json: "JSON", yaml: "YAML" };
const MEDIA_TYPE: Record<TextFormat, string> = { json: "application/json", yaml: "application/yaml" };

function asObject(parsed: unknown, format: TextFormat): { data: ConfigData } | { error: string } {
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { error: `the config must be one ${FORMAT_NAME[format]} object of key: value pairs` };
  }
  return { data: parsed as ConfigData };
}

function parseConfigJson(text: string): { data: ConfigData } | { error: string } {
  try {
    return asObject(JSON.parse(text), "json");
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function parseConfigYaml(text: string, yaml: YamlModule): { data: ConfigData } | { error: string } {
  try {
    return asObject(yaml.parse(text, { version: "1.1" }), "yaml");
  } catch (e) {
    return { error: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
  }
}

function serialise(data: ConfigData, format: TextFormat, yaml: YamlModule | null): string {
  return format === "yaml" && yaml ? yaml.stringify(data, { version: "1.1" }) : JSON.stringify(data, null, 2);
}

export function JsonEditor({
  data,
  onData,
  onParseError,
  fieldErrors,
  readOnly = false,
  fileName,
}: {
  data: ConfigData;
  onData: (data: ConfigData) => void;
  onParseError: (message: string | null) => void;
  /** API errors, "key: message" (shown under the editor too: the form is not in view) */
  fieldErrors: string[];
  readOnly?: boolean;
  /** the name a download gets (the same JSON trains from the terminal: visionyard train --config) */
  fileName: string;
}) {
  // Mounted when the tab opens (Radix unmounts hidden tabs): starts from the form's data.
  const [format, setFormat] = useState<TextFormat>("json");
  const [yaml, setYaml] = useState<YamlModule | null>(null);
  const [text, setText] = useState(() => JSON.stringify(data, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  const name = FORMAT_NAME[format];
  const describedBy = [parseError ? "config-json-parse" : null, fieldErrors.length ? "config-json-errors" : null, "config-json-help"]
    .filter(Boolean)
    .join(" ");

  const switchTo = async (next: TextFormat) => {
    if (next === format) return;
    // From the last text that parsed (the form's data): a half-typed edit is not converted.
    let reader = yaml;
    if (next === "yaml" && !reader) {
      try {
        reader = await import("yaml");
      } catch {
        toast.error("The YAML reader could not be loaded; reload the page to try again");
        return;
      }
      setYaml(reader);
    }
    setText(serialise(data, next, reader));
    setFormat(next);
    setParseError(null);
    onParseError(null);
  };

  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="flex items-center gap-3">
          <Label htmlFor="config-json">Config {name}</Label>
          <div role="radiogroup" aria-label="Text format" className="flex rounded-md border p-0.5">
            {(["json", "yaml"] as const).map((f) => (
              <button
                key={f}
                type="button"
                role="radio"
                aria-checked={format === f}
                disabled={parseError != null && format !== f}
                title={parseError != null && format !== f ? `Fix the ${name} first` : undefined}
                onClick={() => void switchTo(f)}
                className={cn(
                  "rounded px-2 py-0.5 text-xs font-medium disabled:opacity-50",
                  format === f ? "bg-primary text-primary-foreground" : "text-muted-foreground hover:bg-accent",
                )}
              >
                {FORMAT_NAME[f]}
              </button>
            ))}
          </div>
        </div>
        <div className="flex gap-2">
          <Button
            variant="outline"
            size="sm"
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(text);
                toast.success(`Config ${name} copied`);
              } catch {
                toast.error("The browser did not allow copying; select the text and copy it");
              }
            }}
          >
            <Copy /> Copy
          </Button>
          <Button
            variant="outline"
            size="sm"
            onClick={() => {
              const url = URL.createObjectURL(new Blob([text], { type: MEDIA_TYPE[format] }));
              const link = document.createElement("a");
              link.href = url;
              link.download = fileName.replace(/\.json$/, `.${format}`);
              link.click();
              URL.revokeObjectURL(url);
            }}
          >
            <Download /> Download
          </Button>
        </div>
      </div>
      <p id="config-json-help" className="text-xs text-muted-foreground">
        The whole TrainConfig as JSON or YAML. Keys left out take their defaults; edits show in the
        form at once. A downloaded file trains from the terminal too:{" "}
        <code>visionyard train --config FILE</code>.
      </p>
      <Textarea
        id="config-json"
        value={text}
        readOnly={readOnly}
        spellCheck={false}
        rows={28}
        className="text-xs leading-5"
        aria-invalid={parseError || fieldErrors.length ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => {
          const next = e.target.value;
          setText(next);
          const result = format === "yaml" && yaml ? parseConfigYaml(next, yaml) : parseConfigJson(next);
          if ("error" in result) {
            setParseError(result.error);
            onParseError(`is not valid ${name}: ${result.error}`);
          } else {
            setParseError(null);
            onParseError(null);
            onData(result.data);
          }
        }}
      />
      {parseError && (
        <p id="config-json-parse" className="text-sm text-destructive">
          Not valid {name}: {parseError}
        </p>
      )}
      {fieldErrors.length > 0 && (
        <ul id="config-json-errors" className="list-disc pl-5 text-sm text-destructive">
          {fieldErrors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
