"use client";

// Clone a config: a new config whose version 1 copies a version of this one; then open it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
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
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { api, ApiError, errorMessage, unwrap } from "@/lib/api/client";
import { keys } from "@/lib/queries";

export interface CloneableConfig {
  id: number;
  name: string;
  project_id: number;
  latest_version: number;
}

function CloneForm({ config, onDone }: { config: CloneableConfig; onDone: () => void }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const [name, setName] = useState(`${config.name}-copy`);
  const [version, setVersion] = useState(String(config.latest_version));
  const [error, setError] = useState<ApiError | null>(null);
  const clone = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/configs/{config_id}/clone", {
          params: { path: { config_id: config.id } },
          body: { name: name.trim(), version: Number(version) },
        }),
      ),
    onSuccess: (copy) => {
      queryClient.invalidateQueries({ queryKey: keys.configs(config.project_id) });
      toast.success(`Cloned ${config.name} v${version} as ${copy.name}`);
      onDone();
      router.push(`/config/?id=${copy.id}`);
    },
    onError: (e) => setError(e instanceof ApiError ? e : new ApiError(0, "error", errorMessage(e))),
  });
  const nameError =
    error?.fields.find((f) => f.field === "name")?.message ?? (error && !error.fields.length ? error.message : null);
  const otherErrors = error?.fields.filter((f) => f.field !== "name") ?? [];
  const versions = Array.from({ length: config.latest_version }, (_, i) => config.latest_version - i);
  return (
    <form
      className="flex flex-col gap-4"
      onSubmit={(e) => {
        e.preventDefault();
        e.stopPropagation();
        setError(null);
        clone.mutate();
      }}
    >
      <DialogHeader>
        <DialogTitle>Clone {config.name}</DialogTitle>
        <DialogDescription>A new config in this project, starting from a copy of one version.</DialogDescription>
      </DialogHeader>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="clone-name">New name</Label>
        <Input
          id="clone-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          autoFocus
          required
          aria-invalid={nameError ? true : undefined}
          aria-describedby={nameError ? "clone-name-error" : undefined}
        />
        {nameError && (
          <p id="clone-name-error" className="text-sm text-destructive">
            {nameError}
          </p>
        )}
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="clone-version">Copy version</Label>
        <Select value={version} onValueChange={setVersion}>
          <SelectTrigger id="clone-version" className="w-48">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            {versions.map((v) => (
              <SelectItem key={v} value={String(v)}>
                Version {v}
                {v === config.latest_version ? " (latest)" : ""}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      {otherErrors.length > 0 && (
        <div role="alert" className="text-sm text-destructive">
          {otherErrors.map((f) => (
            <p key={f.field}>
              {f.field}: {f.message}
            </p>
          ))}
        </div>
      )}
      <DialogFooter>
        <Button variant="outline" onClick={onDone}>
          Cancel
        </Button>
        <Button type="submit" disabled={clone.isPending || !name.trim()}>
          Clone and open
        </Button>
      </DialogFooter>
    </form>
  );
}

export function CloneConfigDialog({
  config,
  open,
  onOpenChange,
}: {
  config: CloneableConfig;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>{open && <CloneForm config={config} onDone={() => onOpenChange(false)} />}</DialogContent>
    </Dialog>
  );
}
