"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Pencil, X } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { api, ApiError, errorMessage, unwrap } from "@/lib/api/client";
import { keys } from "@/lib/queries";

/** The run's tags, edited in place: comma-separated, saved with setRunTags (which replaces
 *  them all). */
export function RunTags({ runId, tags, readOnly = false }: { runId: number; tags: string[]; readOnly?: boolean }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (next: string[]) =>
      unwrap(api.PUT("/runs/{run_id}/tags", { params: { path: { run_id: runId } }, body: { tags: next } })),
    onSuccess: (run) => {
      queryClient.setQueryData(keys.run(runId), run);
      queryClient.invalidateQueries({ queryKey: ["runs"] });
      setEditing(false);
      toast.success("Tags saved");
    },
    onError: (e) =>
      setError(e instanceof ApiError && e.fields.length ? e.fields.map((f) => f.message).join("; ") : errorMessage(e)),
  });
  const parse = (value: string) => [...new Set(value.split(",").map((t) => t.trim()).filter(Boolean))];

  if (readOnly) {
    return (
      <div className="flex flex-wrap items-center gap-1.5">
        {tags.length === 0 && <span className="text-sm text-muted-foreground">No tags</span>}
        {tags.map((tag) => (
          <Badge key={tag} variant="secondary">
            {tag}
          </Badge>
        ))}
      </div>
    );
  }
  if (editing) {
    return (
      <form
        className="flex flex-wrap items-center gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          save.mutate(parse(text));
        }}
      >
        <Input
          aria-label="Tags, separated by commas"
          className="h-8 w-72"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="baseline, resnet"
          autoFocus
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "run-tags-error" : undefined}
          onKeyDown={(e) => {
            if (e.key === "Escape") setEditing(false);
          }}
        />
        <Button size="sm" type="submit" disabled={save.isPending}>
          Save tags
        </Button>
        <Button size="sm" variant="ghost" onClick={() => setEditing(false)}>
          Cancel
        </Button>
        {error && (
          <p id="run-tags-error" className="w-full text-sm text-destructive">
            {error}
          </p>
        )}
      </form>
    );
  }
  return (
    <div className="flex flex-wrap items-center gap-1.5">
      {tags.length === 0 && <span className="text-sm text-muted-foreground">No tags</span>}
      {tags.map((tag) => (
        <Badge key={tag} variant="secondary" className="gap-0.5 pr-0.5">
          {tag}
          <button
            type="button"
            className="rounded p-0.5 hover:bg-background/60"
            aria-label={`Remove tag ${tag}`}
            onClick={() => save.mutate(tags.filter((t) => t !== tag))}
          >
            <X className="size-3" />
          </button>
        </Badge>
      ))}
      <Button
        size="icon-sm"
        variant="ghost"
        aria-label="Edit tags"
        onClick={() => {
          setText(tags.join(", "));
          setError(null);
          setEditing(true);
        }}
      >
        <Pencil />
      </Button>
    </div>
  );
}
