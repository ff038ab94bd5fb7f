"use client";

// The raw config as JSON, kept in sync with the form: every edit that parses to an object
// becomes the form's data at once; text that does not parse is reported (with where) and blocks
// saving until it is fixed. The API takes JSON only (a YAML file is read by the CLI, not here).
import { Copy, Download } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/input";
import type { ConfigData } from "./schema";

export function parseConfigJson(text: string): { data: ConfigData } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { error: "the config must be one JSON object of key: value pairs" };
  }
  return { data: parsed as ConfigData };
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
  const [text, setText] = useState(() => JSON.stringify(data, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  const describedBy = [parseError ? "config-json-parse" : null, fieldErrors.length ? "config-json-errors" : null, "config-json-help"]
    .filter(Boolean)
    .join(" ");
  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <Label htmlFor="config-json">Config JSON</Label>
        <div className="flex gap-2">
          <Button
            variant="outline"
            size="sm"
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(text);
                toast.success("Config JSON copied");
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
              const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
              const link = document.createElement("a");
              link.href = url;
              link.download = fileName;
              link.click();
              URL.revokeObjectURL(url);
            }}
          >
            <Download /> Download
          </Button>
        </div>
      </div>
      <p id="config-json-help" className="text-xs text-muted-foreground">
        The whole TrainConfig as JSON. Keys left out take their defaults; edits show in the form at
        once. A downloaded file trains from the terminal too: <code>visionyard train --config FILE</code>.
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
          const result = parseConfigJson(next);
          if ("error" in result) {
            setParseError(result.error);
            onParseError(result.error);
          } else {
            setParseError(null);
            onParseError(null);
            onData(result.data);
          }
        }}
      />
      {parseError && (
        <p id="config-json-parse" className="text-sm text-destructive">
          Not valid JSON: {parseError}
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
