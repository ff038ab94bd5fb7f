"use client";

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
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { Spinner } from "@/components/ui/states";
import { api, ApiError, unwrap } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";
import { keys } from "@/lib/queries";

/** The last part of a folder path: the name a dataset is offered by default. */
function folderName(path: string): string {
  return path.split("/").filter(Boolean).pop() ?? "";
}

/** Register a folder of DATASETS_DIR: the server scans it (splits, classes, unreadable images)
 *  before answering, so a layout problem comes back here, in the scanner's own words. */
export function RegisterDatasetDialog({
  path,
  open,
  onOpenChange,
}: {
  path: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const queryClient = useQueryClient();
  const router = useRouter();
  const [name, setName] = useState(folderName(path));
  const [error, setError] = useState<ApiError | null>(null);
  const register = useMutation({
    mutationFn: () => unwrap(api.POST("/datasets", { body: { name, path } })),
    onSuccess: (dataset) => {
      queryClient.invalidateQueries({ queryKey: keys.datasets });
      onOpenChange(false);
      const skipped = dataset.analysis?.skipped.length ?? 0;
      toast.success(
        `Registered ${dataset.name}` + (skipped ? ` (${skipped} unreadable image${skipped === 1 ? "" : "s"} left out)` : ""),
      );
      router.push(`/dataset/?id=${dataset.id}`);
    },
    onError: (e) => setError(asApiError(e)),
  });
  const nameError = fieldError(error, "name");
  const general = formError(error, ["name"]);
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            register.mutate();
          }}
        >
          <DialogHeader>
            <DialogTitle>Register dataset</DialogTitle>
            <DialogDescription>
              The folder <code className="font-mono text-foreground">{path || "."}</code> is scanned now: its
              train/, val/ (and test/) class folders, the images of each class, and any image that
              cannot be read.
            </DialogDescription>
          </DialogHeader>
          {general && (
            <p role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm text-destructive">
              {general}
            </p>
          )}
          <Field id="dataset-name" label="Name" error={nameError}>
            {(control) => (
              <Input {...control} value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
            )}
          </Field>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={register.isPending || !name.trim()}>
              {register.isPending && <Spinner label="Scanning" className="text-primary-foreground" />}
              {register.isPending ? "Scanning…" : "Register"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
