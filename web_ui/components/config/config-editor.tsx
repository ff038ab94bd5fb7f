"use client";

// Editing a config: the generated form and the raw JSON, two views of one object, and the save
// that turns it into a new immutable version (or, for a new config, version 1). The API's 422
// names each bad field; those messages land under the fields and in a summary at the top.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { FileJson, ListChecks, Save, Undo2 } from "lucide-react";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { ErrorState, LoadingRows } from "@/components/ui/states";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { api, ApiError, errorMessage, unwrap } from "@/lib/api/client";
import { useLeaveWarning } from "@/lib/hooks/use-leave-warning";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { keys } from "@/lib/queries";
import { ConfigForm, type FieldErrors } from "./config-form";
import { ErrorSummary, type SummaryItem } from "./error-summary";
import { fieldId } from "./fields";
import { JsonEditor } from "./json-editor";
import { useConfigSchema, useFormOptions, type Config } from "./queries";
import { buildSections, errorKey, type ConfigData, type JsonValue } from "./schema";

/** What another tab may do to the editor: load a version's data as an unsaved edit. */
export interface EditorHandle {
  loadIntoForm: (data: ConfigData, what: string) => void;
}

export interface ExtraTab {
  value: string;
  label: React.ReactNode;
  content: (editor: EditorHandle) => React.ReactNode;
}

type Mode = { kind: "new"; projectId: number } | { kind: "edit"; config: Config };

function asError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, "error", errorMessage(e));
}

function groupFieldErrors(error: ApiError | null): FieldErrors {
  const grouped: FieldErrors = {};
  for (const f of error?.fields ?? []) {
    if (f.field === "name" || f.field === "message") continue; // shown beside their own inputs
    const key = f.field === "<config>" || f.field === "data" ? "<config>" : errorKey(f.field);
    const where = f.field.includes(".") && !f.field.startsWith("data.") ? `${f.field}: ` : "";
    (grouped[key] ??= []).push(`${where}${f.message}`);
  }
  return grouped;
}

const NEW_CONFIG: ConfigData = { root: "", model_flavour: "" };

export function ConfigEditor({
  mode,
  extraTabs = [],
  onDirtyChange,
  readOnly = false,
}: {
  mode: Mode;
  extraTabs?: ExtraTab[];
  /** a viewer's: every control disabled, no saving (the tabs still switch) */
  readOnly?: boolean;
  /** told whenever the form starts or stops differing from the saved version */
  onDirtyChange?: (dirty: boolean) => void;
}) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const projectId = mode.kind === "new" ? mode.projectId : mode.config.project_id;
  const schema = useConfigSchema();
  const options = useFormOptions(projectId);
  const sections = useMemo(() => (schema.data ? buildSections(schema.data) : []), [schema.data]);
  const formKeys = useMemo(() => new Set(sections.flatMap((s) => s.fields.map((f) => f.key))), [sections]);
  const labels = useMemo(
    () => new Map(sections.flatMap((s) => s.fields.map((f) => [f.key, f.label] as const))),
    [sections],
  );

  const savedData = mode.kind === "edit" ? (mode.config.latest.data as ConfigData) : NEW_CONFIG;
  const [baseline, setBaseline] = useState<ConfigData>(savedData);
  const [data, setData] = useState<ConfigData>(savedData);
  const [name, setName] = useState("");
  const [note, setNote] = useState("");
  const [apiError, setApiError] = useState<ApiError | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [triedSave, setTriedSave] = useState(false);
  // The JSON tab keeps its own text; a new key re-reads the data after a save or a discard.
  const [jsonKey, setJsonKey] = useState(0);
  const [tabParam, setTabParam] = useUrlState("tab");
  const tabs = ["form", "json", ...extraTabs.map((t) => t.value)];
  const tab = tabParam && tabs.includes(tabParam) ? tabParam : "form";
  const setTab = (next: string) => setTabParam(next === "form" ? null : next);

  // A newer version saved elsewhere (or a refetch after our save) becomes the baseline when
  // nothing is being edited here.
  const latestId = mode.kind === "edit" ? mode.config.latest.id : 0;
  const dirty = JSON.stringify(data) !== JSON.stringify(baseline);
  useEffect(() => {
    if (mode.kind !== "edit" || dirty) return;
    setBaseline(mode.config.latest.data as ConfigData);
    setData(mode.config.latest.data as ConfigData);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new latest version matters
  }, [latestId]);

  useEffect(() => onDirtyChange?.(dirty), [dirty, onDirtyChange]);

  // Leaving with unsaved edits asks first (a long form is a lot to lose).
  useLeaveWarning(dirty, "Leave this config? Your unsaved changes will be lost.");

  const setField = useCallback((key: string, value: JsonValue | undefined) => {
    setData((current) => {
      const next = { ...current };
      if (value === undefined) delete next[key];
      else next[key] = value;
      return next;
    });
    // The user is fixing it: the old message no longer describes what is there.
    setFieldErrors((current) => {
      if (!current[key] && !current["<config>"]) return current;
      const next = { ...current };
      delete next[key];
      delete next["<config>"];
      return next;
    });
  }, []);

  const setLocalError = useCallback((key: string, message: string | null) => {
    setLocalErrors((current) => {
      const next = { ...current };
      if (message) next[key] = message;
      else delete next[key];
      return next;
    });
  }, []);

  const save = useMutation({
    mutationFn: async () => {
      if (mode.kind === "new") {
        return unwrap(
          api.POST("/projects/{project_id}/configs", {
            params: { path: { project_id: mode.projectId } },
            body: { name: name.trim(), data: data as Record<string, unknown>, message: note },
          }),
        );
      }
      return unwrap(
        api.PUT("/configs/{config_id}", {
          params: { path: { config_id: mode.config.id } },
          body: { data: data as Record<string, unknown>, message: note },
        }),
      );
    },
    onSuccess: (saved) => {
      setApiError(null);
      setFieldErrors({});
      setTriedSave(false);
      setNote("");
      queryClient.setQueryData(keys.config(saved.id), saved);
      queryClient.invalidateQueries({ queryKey: keys.configs(saved.project_id) });
      const stored = saved.latest.data as ConfigData;
      setBaseline(stored);
      setData(stored);
      setJsonKey((k) => k + 1);
      if (mode.kind === "new") {
        toast.success(`Config ${saved.name} created (version 1)`);
        router.push(`/config/?id=${saved.id}`);
      } else if ("created" in saved && !saved.created) {
        toast.info(`Nothing to save: identical to version ${saved.latest_version}`);
      } else {
        toast.success(`Saved version ${saved.latest_version} of ${saved.name}`);
      }
    },
    onError: (e) => {
      const error = asError(e);
      setApiError(error);
      setFieldErrors(groupFieldErrors(error));
    },
  });

  const submit = () => {
    setTriedSave(true);
    if (jsonError || Object.keys(localErrors).length) return;
    setApiError(null);
    save.mutate();
  };

  // Ctrl/Cmd+S saves, as in any editor.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s" && (tab === "form" || tab === "json")) {
        e.preventDefault();
        document.getElementById("config-save")?.click();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [tab]);

  const nameErrors = (apiError?.fields ?? []).filter((f) => f.field === "name").map((f) => f.message);
  const summaryItems: SummaryItem[] = [
    ...Object.entries(fieldErrors).flatMap(([key, messages]) =>
      messages.map((message) => ({
        key,
        label: key === "<config>" ? "Config" : (labels.get(key) ?? key),
        message,
        inForm: formKeys.has(key),
      })),
    ),
    ...Object.entries(localErrors).map(([key, message]) => ({
      key,
      label: labels.get(key) ?? key,
      message,
      inForm: true,
    })),
    ...(triedSave && jsonError
      ? [{ key: "json", label: "Config text", message: jsonError, inForm: false }]
      : []),
  ];
  const unexplained = apiError && apiError.fields.length === 0 ? apiError.message : null;
  const problemCount = summaryItems.length + nameErrors.length;
  const showSummary = (apiError || triedSave) && (problemCount > 0 || unexplained);

  const goTo = (item: SummaryItem) => {
    setTab(item.inForm ? "form" : "json");
    // After the tab has rendered its fields.
    window.setTimeout(() => {
      const el = document.getElementById(item.inForm ? fieldId(item.key) : "config-json");
      el?.scrollIntoView({ block: "center" });
      el?.focus();
    }, 50);
  };

  if (schema.isPending) return <LoadingRows rows={8} />;
  if (schema.error && !schema.data) return <ErrorState error={schema.error} retry={() => schema.refetch()} />;

  const jsonFieldErrors = Object.entries(fieldErrors).flatMap(([key, messages]) =>
    messages.map((m) => `${key}: ${m}`),
  );

  return (
    <form
      noValidate
      aria-label={mode.kind === "new" ? "New config" : `Edit ${mode.config.name}`}
      className="flex flex-col gap-4"
      onSubmit={(e) => {
        e.preventDefault();
        // A dialog's form (queue a run, clone) is portaled out of this one in the DOM, but its
        // submit still bubbles here through React: only this form's own submit saves.
        if (e.target !== e.currentTarget) return;
        submit();
      }}
    >
      {showSummary && (
        <ErrorSummary
          title={
            problemCount
              ? `${problemCount} ${problemCount === 1 ? "problem" : "problems"} to fix before saving`
              : "Could not save"
          }
          message={unexplained}
          items={[
            ...nameErrors.map((message) => ({ key: "name", label: "Name", message, inForm: true })),
            ...summaryItems,
          ]}
          onGoTo={(item) =>
            item.key === "name" ? document.getElementById("config-name")?.focus() : goTo(item)
          }
        />
      )}
      {mode.kind === "new" && (
        <Card className="flex flex-col gap-1.5 p-4">
          <Label htmlFor="config-name">Name</Label>
          <Input
            id="config-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            autoFocus
            className="max-w-md"
            placeholder="e.g. vit-baseline"
            aria-invalid={nameErrors.length ? true : undefined}
            aria-describedby={nameErrors.length ? "config-name-error" : "config-name-help"}
          />
          <p id="config-name-help" className="text-xs text-muted-foreground">
            Unique in the project; runs are named after it and the version.
          </p>
          {nameErrors.length > 0 && (
            <p id="config-name-error" className="text-sm text-destructive">
              {nameErrors.join("; ")}
            </p>
          )}
        </Card>
      )}
      <Tabs value={tab} onValueChange={setTab}>
        <TabsList>
          <TabsTrigger value="form">
            <ListChecks aria-hidden /> Form
          </TabsTrigger>
          <TabsTrigger value="json">
            <FileJson aria-hidden /> JSON / YAML
          </TabsTrigger>
          {extraTabs.map((t) => (
            <TabsTrigger key={t.value} value={t.value}>
              {t.label}
            </TabsTrigger>
          ))}
        </TabsList>
        <TabsContent value="form">
          {options.error && (
            <p className="mb-3 text-sm text-muted-foreground">
              The lists behind some choices could not be loaded ({errorMessage(options.error)}); type
              the values instead.
            </p>
          )}
          <fieldset disabled={readOnly} className="min-w-0">
            <ConfigForm
              sections={sections}
              data={data}
              errors={fieldErrors}
              onFieldChange={setField}
              onLocalError={setLocalError}
              projectId={projectId}
              options={options.data}
            />
          </fieldset>
        </TabsContent>
        <TabsContent value="json">
          <fieldset disabled={readOnly} className="min-w-0">
            <JsonEditor
              key={jsonKey}
              data={data}
              onData={(next) => {
                setData(next);
                setFieldErrors({});
              }}
              onParseError={setJsonError}
              fileName={
                mode.kind === "edit"
                  ? `${mode.config.name}-v${mode.config.latest_version}${dirty ? "-edited" : ""}.json`
                  : `${name.trim() || "config"}.json`
              }
              fieldErrors={jsonFieldErrors}
            />
          </fieldset>
        </TabsContent>
        {extraTabs.map((t) => (
          <TabsContent key={t.value} value={t.value}>
            {t.content({
              loadIntoForm: (next, what) => {
                setData(next);
                setFieldErrors({});
                setLocalErrors({});
                setJsonError(null);
                setJsonKey((k) => k + 1);
                setTab("form");
                toast.info(`${what} loaded into the form: save to make it the newest version`);
              },
            })}
          </TabsContent>
        ))}
      </Tabs>
      {!readOnly && (tab === "form" || tab === "json") && (
        <div className="sticky bottom-0 z-10 -mx-6 flex flex-wrap items-center gap-3 border-t bg-background/95 px-6 py-3 backdrop-blur">
          {mode.kind === "edit" &&
            (dirty ? (
              <Badge variant="outline" className="border-warning/60 bg-warning/20 text-foreground">
                Unsaved changes
              </Badge>
            ) : (
              <span className="text-sm text-muted-foreground">
                Version {mode.config.latest_version} · no changes
              </span>
            ))}
          <Input
            aria-label="Change note"
            placeholder="Change note (optional): what and why"
            value={note}
            onChange={(e) => setNote(e.target.value)}
            className="max-w-sm flex-1"
          />
          <div className="ml-auto flex gap-2">
            {mode.kind === "edit" && dirty && (
              <Button
                variant="outline"
                onClick={() => {
                  setData(baseline);
                  setFieldErrors({});
                  setLocalErrors({});
                  setJsonError(null);
                  setApiError(null);
                  setJsonKey((k) => k + 1);
                }}
              >
                <Undo2 /> Discard changes
              </Button>
            )}
            <Button id="config-save" type="submit" disabled={save.isPending || (mode.kind === "new" && !name.trim())}>
              <Save />
              {mode.kind === "new" ? "Create config" : `Save as version ${mode.config.latest_version + 1}`}
            </Button>
          </div>
        </div>
      )}
    </form>
  );
}
