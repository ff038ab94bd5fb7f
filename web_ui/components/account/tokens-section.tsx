"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { KeyRound, Plus } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
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
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";
import { keys, useProjects } from "@/lib/queries";
import { formatDate, timeAgo } from "@/lib/utils";
import { ProjectPicker } from "./project-picker";
import { SecretDialog } from "./secret-dialog";

type Token = Schemas["TokenOut"];
type Scope = "read" | "write";

const SCOPES: { value: Scope; label: string; help: string }[] = [
  { value: "read", label: "Read", help: "Reads only: it can never change anything, whatever your roles." },
  { value: "write", label: "Write", help: "Acts with your roles: it may change what you may change." },
];

function CreateTokenDialog({
  open,
  onOpenChange,
  onCreated,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onCreated: (created: Schemas["TokenCreated"]) => void;
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"user" | "agent">("user");
  const [scope, setScope] = useState<Scope>("read");
  const [projectIds, setProjectIds] = useState<number[]>([]);
  const [days, setDays] = useState("90");
  const [error, setError] = useState<ApiError | null>(null);
  const isAgent = kind === "agent";
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/tokens", {
          body: {
            name,
            kind,
            // An agent's token always writes (it reports runs) and reaches every project.
            scope: isAgent ? "write" : scope,
            project_ids: isAgent || projectIds.length === 0 ? null : projectIds,
            expires_in_days: days ? Number(days) : null,
          },
        }),
      ),
    onSuccess: (created) => {
      queryClient.invalidateQueries({ queryKey: keys.tokens });
      onOpenChange(false);
      onCreated(created);
    },
    onError: (e) => setError(asApiError(e)),
  });
  const fields = ["name", "expires_in_days", "project_ids", "scope"];
  const general = formError(error, fields);
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent className="max-h-[90vh] overflow-y-auto">
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            create.mutate();
          }}
        >
          <DialogHeader>
            <DialogTitle>New API token</DialogTitle>
            <DialogDescription>A token acts as you, for scripts, the terminal client or an agent.</DialogDescription>
          </DialogHeader>
          {general && (
            <p role="alert" className="text-sm text-destructive">
              {general}
            </p>
          )}
          <Field id="token-name" label="Name" error={fieldError(error, "name")}>
            {(control) => (
              <Input
                {...control}
                value={name}
                placeholder="ci, laptop, gpu-box-1…"
                onChange={(e) => setName(e.target.value)}
                required
                autoFocus
              />
            )}
          </Field>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor="token-kind">Used by</Label>
            <Select value={kind} onValueChange={(v) => setKind(v as "user" | "agent")}>
              <SelectTrigger id="token-kind">
                <SelectValue />
              </SelectTrigger>
              <SelectContent>
                <SelectItem value="user">A person or a script (user)</SelectItem>
                <SelectItem value="agent">An agent (agent)</SelectItem>
              </SelectContent>
            </Select>
          </div>
          {isAgent ? (
            <p className="text-sm text-muted-foreground">
              An agent&apos;s token can write (it reports its runs) and reaches every project.
            </p>
          ) : (
            <>
              <fieldset className="flex flex-col gap-1.5">
                <legend className="mb-1.5 text-sm font-medium">Scope</legend>
                {SCOPES.map((option) => (
                  <label
                    key={option.value}
                    className="flex cursor-pointer items-start gap-2.5 rounded-md border p-3 text-sm has-[:checked]:border-primary has-[:checked]:bg-primary/5"
                  >
                    <input
                      type="radio"
                      name="token-scope"
                      value={option.value}
                      checked={scope === option.value}
                      onChange={() => setScope(option.value)}
                      className="mt-0.5 accent-[var(--color-primary)]"
                    />
                    <span>
                      <span className="font-medium">{option.label}</span>
                      <span className="block text-muted-foreground">{option.help}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <div className="flex flex-col gap-1.5">
                <Label htmlFor="token-projects">Projects</Label>
                <p id="token-projects-help" className="text-sm text-muted-foreground">
                  Tick projects to limit the token to them; none ticked: every project you can see.
                </p>
                <ProjectPicker
                  id="token-projects"
                  selected={projectIds}
                  onChange={setProjectIds}
                  describedBy="token-projects-help"
                />
                {fieldError(error, "project_ids") && (
                  <p className="text-sm text-destructive">{fieldError(error, "project_ids")}</p>
                )}
              </div>
            </>
          )}
          <Field
            id="token-days"
            label="Expires after (days)"
            description="Leave empty for a token that never expires."
            error={fieldError(error, "expires_in_days")}
          >
            {(control) => (
              <Input
                {...control}
                type="number"
                min={1}
                max={3650}
                value={days}
                onChange={(e) => setDays(e.target.value)}
              />
            )}
          </Field>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              Create token
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function tokenStatus(token: Token): { label: string; variant: "success" | "destructive" | "outline" } {
  if (token.revoked_at) return { label: "revoked", variant: "destructive" };
  if (token.expires_at && Date.parse(token.expires_at) <= Date.now()) return { label: "expired", variant: "outline" };
  return { label: "active", variant: "success" };
}

/** "all projects", or the names of the projects it is limited to (an id for one not listed). */
function useProjectNames(ids: number[] | null | undefined): string {
  const projects = useProjects();
  if (!ids || ids.length === 0) return "all projects";
  const names = new Map(projects.data?.items.map((p) => [p.id, p.name]));
  return ids.map((id) => names.get(id) ?? `project ${id}`).join(", ");
}

function TokenRow({ token }: { token: Token }) {
  const queryClient = useQueryClient();
  const [revoking, setRevoking] = useState(false);
  const status = tokenStatus(token);
  const projects = useProjectNames(token.project_ids);
  return (
    <li className="flex flex-wrap items-center gap-3 px-4 py-3">
      <KeyRound className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-medium">{token.name}</span>
          <code className="font-mono text-xs text-muted-foreground">{token.prefix}…</code>
          <Badge variant="secondary">{token.kind}</Badge>
          <Badge variant="outline">{token.scope}</Badge>
          <Badge variant={status.variant}>{status.label}</Badge>
        </div>
        <p className="text-sm text-muted-foreground">
          {projects}
          {" · "}
          created <span title={formatDate(token.created_at)}>{timeAgo(token.created_at)}</span>
          {" · "}
          {token.last_used_at ? <span title={formatDate(token.last_used_at)}>used {timeAgo(token.last_used_at)}</span> : "never used"}
          {" · "}
          {token.revoked_at ? (
            `revoked ${timeAgo(token.revoked_at)}`
          ) : token.expires_at ? (
            <span title={formatDate(token.expires_at)}>expires {timeAgo(token.expires_at)}</span>
          ) : (
            "never expires"
          )}
        </p>
      </div>
      {!token.revoked_at && (
        <Button variant="outline" size="sm" onClick={() => setRevoking(true)} aria-label={`Revoke ${token.name}`}>
          Revoke
        </Button>
      )}
      <Confirm
        open={revoking}
        onOpenChange={setRevoking}
        title={`Revoke ${token.name}?`}
        description="Requests with it are refused from now on: any script, terminal client or agent using it stops working. This cannot be undone."
        confirmLabel="Revoke token"
        onConfirm={async () => {
          try {
            await unwrap(api.DELETE("/tokens/{token_id}", { params: { path: { token_id: token.id } } }));
            toast.success(`Revoked ${token.name}`);
            queryClient.invalidateQueries({ queryKey: keys.tokens });
          } catch (e) {
            toast.error(errorMessage(e));
          }
        }}
      />
    </li>
  );
}

/** The signed-in user's own API tokens. */
export function TokensSection() {
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Schemas["TokenCreated"] | null>(null);
  const tokens = useQuery({
    queryKey: keys.tokens,
    queryFn: () => unwrap(api.GET("/tokens", { params: { query: { limit: 200 } } })),
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-3">
        <div>
          <CardTitle>API tokens</CardTitle>
          <CardDescription>For scripts, the terminal client and agents; each acts as you.</CardDescription>
        </div>
        <Button onClick={() => setCreating(true)}>
          <Plus /> New token
        </Button>
      </CardHeader>
      <CardContent>
        {tokens.isPending ? (
          <LoadingRows rows={3} />
        ) : tokens.error && !tokens.data ? (
          <ErrorState error={tokens.error} retry={() => tokens.refetch()} />
        ) : tokens.data.items.length === 0 ? (
          <EmptyState icon={<KeyRound className="size-8" />} title="No API tokens" description="Create one for a script or an agent." />
        ) : (
          <ul className="divide-y rounded-md border" aria-label="API tokens">
            {tokens.data.items.map((token) => (
              <TokenRow key={token.id} token={token} />
            ))}
          </ul>
        )}
      </CardContent>
      {creating && <CreateTokenDialog open={creating} onOpenChange={setCreating} onCreated={setCreated} />}
      {created && <SecretDialog name={created.name} secret={created.token} onClose={() => setCreated(null)} />}
    </Card>
  );
}
