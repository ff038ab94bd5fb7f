"use client";

import { keys } from "@/lib/queries";
import { useQueryClient } from "@tanstack/react-query";
import { Cloud, HardDrive, KeyRound, MoreHorizontal, Pencil, Trash2, X } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Confirm } from "@/components/ui/confirm";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { api, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { timeAgo } from "@/lib/utils";
import { ModelDialog } from "./model-dialog";
import { TokenDialog } from "./token-dialog";

type Model = Schemas["ModelOut"];

/** A registered model; `editable` (editors, owners) adds editing, its token and deleting. */
export function ModelRow({ model, editable }: { model: Model; editable: boolean }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [settingToken, setSettingToken] = useState(false);
  const [clearingToken, setClearingToken] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const Icon = model.kind === "hub" ? Cloud : HardDrive;
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.models(model.project_id) });
  return (
    <li className="flex items-center gap-3 px-4 py-3 hover:bg-muted/40">
      <Icon className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-medium">{model.name}</span>
          <Badge variant="secondary">{model.kind === "hub" ? "Hub" : "Local folder"}</Badge>
          {model.has_token && (
            <Badge variant="success">
              <KeyRound className="size-3" aria-hidden /> token set
            </Badge>
          )}
        </div>
        <code className="block truncate font-mono text-xs text-muted-foreground" title={model.source}>
          {model.source}
        </code>
      </div>
      <span className="hidden text-sm text-muted-foreground sm:block" title={model.created_at}>
        added {timeAgo(model.created_at)}
      </span>
      {editable && (
        <Button variant="outline" size="sm" onClick={() => setSettingToken(true)}>
          <KeyRound aria-hidden /> {model.has_token ? "Replace token" : "Set token"}
        </Button>
      )}
      {editable && (
        <DropdownMenu>
          <DropdownMenuTrigger asChild>
            <Button variant="ghost" size="icon-sm" aria-label={`Actions for ${model.name}`}>
              <MoreHorizontal />
            </Button>
          </DropdownMenuTrigger>
          <DropdownMenuContent align="end">
            <DropdownMenuItem onSelect={() => setEditing(true)}>
              <Pencil /> Edit name or source
            </DropdownMenuItem>
            {model.has_token && (
              <DropdownMenuItem onSelect={() => setClearingToken(true)}>
                <X /> Clear token
              </DropdownMenuItem>
            )}
            <DropdownMenuSeparator />
            <DropdownMenuItem destructive onSelect={() => setDeleting(true)}>
              <Trash2 /> Delete
            </DropdownMenuItem>
          </DropdownMenuContent>
        </DropdownMenu>
      )}
      {editing && <ModelDialog projectId={model.project_id} model={model} open={editing} onOpenChange={setEditing} />}
      {settingToken && <TokenDialog model={model} open={settingToken} onOpenChange={setSettingToken} />}
      <Confirm
        open={clearingToken}
        onOpenChange={setClearingToken}
        title={`Clear the token of ${model.name}?`}
        description="Agents then download this model without a token: a gated or private Hub model will fail to load until a token is set again."
        confirmLabel="Clear token"
        onConfirm={async () => {
          try {
            await unwrap(
              api.PATCH("/models/{model_id}", { params: { path: { model_id: model.id } }, body: { access_token: null } }),
            );
            toast.success(`Token cleared for ${model.name}`);
            refresh();
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
      <Confirm
        open={deleting}
        onOpenChange={setDeleting}
        title={`Delete ${model.name}?`}
        description="It leaves this project's registry, with its token. Model files on disk and runs that used it are not touched."
        confirmLabel="Delete model"
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/models/{model_id}", { params: { path: { model_id: model.id } } }));
            toast.success(`Deleted ${model.name}`);
            refresh();
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </li>
  );
}
