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
import { asApiError } from "@/lib/api/form-errors";

type Model = Schemas["ModelOut"];

/** Set or replace a model's access token. Write-only: the field starts empty, the API only ever
 *  says whether one is set, and the value is dropped from memory when the dialog closes. */
export function TokenDialog({
  model,
  open,
  onOpenChange,
}: {
  model: Model;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const [token, setToken] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/models/{model_id}", {
          params: { path: { model_id: model.id } },
          body: { access_token: token.trim() },
        }),
      ),
    onSuccess: () => {
      setToken("");
      queryClient.invalidateQueries({ queryKey: keys.models(model.project_id) });
      onOpenChange(false);
      toast.success(`Token ${model.has_token ? "replaced" : "set"} for ${model.name}`);
    },
    onError: (e) => setError(asApiError(e)),
  });
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
            <DialogTitle>{model.has_token ? "Replace" : "Set"} access token</DialogTitle>
            <DialogDescription>
              The Hugging Face token agents use to download {model.name}. It is stored encrypted and
              never shown again, here or in the API.
            </DialogDescription>
          </DialogHeader>
          <Field id="access-token" label="Access token" error={error && (error.fields[0]?.message ?? error.message)} alert>
            {(control) => (
              <Input
                {...control}
                type="password"
                autoComplete="off"
                value={token}
                onChange={(e) => setToken(e.target.value)}
                required
                autoFocus
              />
            )}
          </Field>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending || !token.trim()}>
              Save token
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
