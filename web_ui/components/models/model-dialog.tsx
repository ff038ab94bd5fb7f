"use client";

import { keys } from "@/lib/queries";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { api, ApiError, unwrap, type Schemas } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";

type Model = Schemas["ModelOut"];
type Kind = Model["kind"];

const KINDS: Record<Kind, { label: string; placeholder: string; help: string }> = {
  hub: {
    label: "Hugging Face Hub model",
    placeholder: "google/vit-base-patch16-224",
    help: "Its Hub id, written org/name. Agents download it (with the token, if one is set).",
  },
  local: {
    label: "Local folder",
    placeholder: "my-finetuned-vit",
    help: "A save_pretrained folder in VISIONYARD_MODELS_DIR: its path relative to that folder, or its absolute path.",
  },
};


/** Add a model to a project's registry, or change its name or source. The token is set in its
 *  own dialog (TokenDialog), except when adding, where it may be given at once. */
export function ModelDialog({
  projectId,
  model,
  open,
  onOpenChange,
}: {
  projectId: number;
  model?: Model;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(model?.name ?? "");
  const [source, setSource] = useState(model?.source ?? "");
  const [kind, setKind] = useState<Kind>(model?.kind ?? "hub");
  // On edit, the kind goes with the source: both are sent when either changed.
  const sourceChanged = model != null && (source !== model.source || kind !== model.kind);
  const [token, setToken] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const save = useMutation({
    mutationFn: () =>
      model
        ? unwrap(
            api.PATCH("/models/{model_id}", {
              params: { path: { model_id: model.id } },
              body: { name, ...(sourceChanged ? { source, kind } : {}) },
            }),
          )
        : unwrap(
            api.POST("/projects/{project_id}/models", {
              params: { path: { project_id: projectId } },
              body: { name, source, kind, ...(token ? { access_token: token } : {}) },
            }),
          ),
    onSuccess: (saved) => {
      queryClient.invalidateQueries({ queryKey: keys.models(projectId) });
      onOpenChange(false);
      toast.success(model ? `Saved ${saved.name}` : `Added ${saved.name} (${saved.kind === "hub" ? "Hub model" : "local folder"})`);
    },
    onError: (e) => setError(asApiError(e)),
  });
  const nameError = fieldError(error, "name");
  const sourceError =
    fieldError(error, "source") ?? fieldError(error, "kind") ?? formError(error, ["name", "source", "kind", "access_token"]);
  const look = KINDS[kind];
  const tokenError = fieldError(error, "access_token");
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            save.mutate();
          }}
        >
          <DialogHeader>
            <DialogTitle>{model ? `Edit ${model.name}` : "Add model"}</DialogTitle>
            <DialogDescription>
              Configs of this project can then name it by its source.
            </DialogDescription>
          </DialogHeader>
          <Field id="model-name" label="Name" error={nameError}>
            {(control) => (
              <Input {...control} value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
            )}
          </Field>
          <fieldset className="flex flex-col gap-1.5">
            <legend className="mb-1.5 text-sm font-medium">Kind</legend>
            <div className="flex flex-wrap gap-x-5 gap-y-1.5">
              {(Object.keys(KINDS) as Kind[]).map((value) => (
                <label key={value} className="flex items-center gap-2 text-sm">
                  <input
                    type="radio"
                    name="model-kind"
                    value={value}
                    checked={kind === value}
                    onChange={() => setKind(value)}
                    className="size-4 accent-primary"
                  />
                  {KINDS[value].label}
                </label>
              ))}
            </div>
          </fieldset>
          <Field
            id="model-source"
            label={kind === "hub" ? "Hub id" : "Folder"}
            description={look.help}
            error={sourceError}
            alert
          >
            {(control) => (
              <Input
                {...control}
                className="font-mono"
                value={source}
                placeholder={look.placeholder}
                onChange={(e) => setSource(e.target.value)}
                required
                spellCheck={false}
                autoCapitalize="off"
              />
            )}
          </Field>
          {!model && kind === "hub" && (
            <Field
              id="model-token"
              label="Access token (optional)"
              description="For gated or private Hub models. Stored encrypted and never shown again."
              error={tokenError}
            >
              {(control) => (
                <Input
                  {...control}
                  type="password"
                  autoComplete="off"
                  value={token}
                  onChange={(e) => setToken(e.target.value)}
                />
              )}
            </Field>
          )}
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending || !name.trim() || !source.trim()}>
              {model ? "Save" : "Add model"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
