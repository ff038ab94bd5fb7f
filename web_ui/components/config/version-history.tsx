"use client";

// A config's versions, newest first, and a side-by-side diff of any two of them (the versions
// compared live in the URL: ?tab=history&from=2&to=3, so a diff can be shared).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeftRight, History, RotateCcw } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { Switch } from "@/components/ui/switch";
import { api, errorMessage, unwrap } from "@/lib/api/client";
import { useUrlState } from "@/lib/hooks/use-url-state";
import { cn, formatDate, timeAgo } from "@/lib/utils";
import type { EditorHandle } from "./config-editor";
import type { Config } from "./queries";
import type { ConfigData } from "./schema";

function versionQuery(configId: number, version: number) {
  return {
    queryKey: ["config-version", configId, version],
    queryFn: () =>
      unwrap(
        api.GET("/configs/{config_id}/versions/{version}", {
          params: { path: { config_id: configId, version } },
        }),
      ),
    staleTime: Infinity, // versions are immutable
  };
}

function useVersion(configId: number, version: number) {
  return useQuery(versionQuery(configId, version));
}

function show(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

type Change = "changed" | "added" | "removed" | null;

// The badge text stays the foreground colour: the warning hue is too light for text on a tint.
const CHANGE_LOOK: Record<Exclude<Change, null>, { row: string; badge: string }> = {
  changed: { row: "bg-warning/10", badge: "border-warning/60 bg-warning/20 text-foreground" },
  added: { row: "bg-success/10", badge: "border-success/60 bg-success/15 text-foreground" },
  removed: { row: "bg-destructive/8", badge: "border-destructive/60 bg-destructive/10 text-foreground" },
};

function VersionDiff({ config, from, to }: { config: Config; from: number; to: number }) {
  const [all, setAll] = useUrlState("all");
  const diff = useQuery({
    queryKey: ["config-diff", config.id, from, to],
    queryFn: () =>
      unwrap(
        api.GET("/configs/{config_id}/diff", {
          params: { path: { config_id: config.id }, query: { from, to } },
        }),
      ),
    staleTime: Infinity,
  });
  const left = useVersion(config.id, from);
  const right = useVersion(config.id, to);
  if (diff.isPending || left.isPending || right.isPending) return <LoadingRows rows={4} />;
  const failed = diff.error ?? left.error ?? right.error;
  if (failed || !diff.data || !left.data || !right.data) {
    return <ErrorState error={failed} retry={() => [diff, left, right].forEach((q) => q.refetch())} />;
  }
  const changes = diff.data;

  const kinds = new Map<string, Change>();
  for (const c of changes.changed) kinds.set(c.key, "changed");
  for (const c of changes.added) kinds.set(c.key, "added");
  for (const c of changes.removed) kinds.set(c.key, "removed");
  const a = left.data.data as ConfigData;
  const b = right.data.data as ConfigData;
  const keysShown = [...new Set([...Object.keys(a), ...Object.keys(b), ...kinds.keys()])]
    .filter((k) => all || kinds.has(k))
    .sort((x, y) => Number(kinds.has(y)) - Number(kinds.has(x)) || x.localeCompare(y));
  const total = kinds.size;
  // A diff key may be nested ("eval_topk.1"): its sides come from the diff itself.
  const side = (key: string, which: "old" | "new") => {
    const change =
      changes.changed.find((c) => c.key === key) ??
      changes.added.find((c) => c.key === key) ??
      changes.removed.find((c) => c.key === key);
    if (change) return which === "old" ? (kinds.get(key) === "added" ? undefined : change.old) : kinds.get(key) === "removed" ? undefined : change.new;
    return which === "old" ? a[key] : b[key];
  };

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <p className="text-sm" aria-live="polite">
          {total === 0
            ? `Versions ${from} and ${to} are identical.`
            : `${total} ${total === 1 ? "key differs" : "keys differ"} between version ${from} and version ${to}.`}
        </p>
        <div className="flex items-center gap-2">
          <Switch id="diff-all" checked={!!all} onCheckedChange={(v) => setAll(v ? "1" : null)} />
          <Label htmlFor="diff-all">Show unchanged keys</Label>
        </div>
      </div>
      {keysShown.length > 0 && (
        <Card className="overflow-x-auto">
          <table className="w-full text-sm" aria-label={`Version ${from} and version ${to} side by side`}>
            <thead className="border-b text-left text-muted-foreground">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">Key</th>
                <th scope="col" className="px-3 py-2 font-medium">Version {from}</th>
                <th scope="col" className="px-3 py-2 font-medium">Version {to}</th>
              </tr>
            </thead>
            <tbody className="divide-y font-mono text-xs">
              {keysShown.map((key) => {
                const kind = kinds.get(key) ?? null;
                return (
                  <tr key={key} data-change={kind ?? "same"} className={cn(kind && CHANGE_LOOK[kind].row)}>
                    <th scope="row" className="px-3 py-1.5 text-left align-top font-medium">
                      <span className="flex flex-wrap items-center gap-2">
                        {key}
                        {kind && (
                          <Badge variant="outline" className={cn("font-sans", CHANGE_LOOK[kind].badge)}>
                            {kind}
                          </Badge>
                        )}
                      </span>
                    </th>
                    <td className={cn("px-3 py-1.5 align-top break-all", kind && "line-through decoration-destructive/60")}>
                      {show(side(key, "old")) || <span className="text-muted-foreground italic">not set</span>}
                    </td>
                    <td className={cn("px-3 py-1.5 align-top break-all", kind && "font-semibold")}>
                      {show(side(key, "new")) || <span className="text-muted-foreground italic">not set</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  );
}

function VersionSelect({
  id,
  label,
  value,
  versions,
  onChange,
}: {
  id: string;
  label: string;
  value: number;
  versions: number[];
  onChange: (v: number) => void;
}) {
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Select value={String(value)} onValueChange={(v) => onChange(Number(v))}>
        <SelectTrigger id={id} className="w-36">
          <SelectValue />
        </SelectTrigger>
        <SelectContent>
          {versions.map((v) => (
            <SelectItem key={v} value={String(v)}>
              Version {v}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
    </div>
  );
}

/** `readOnly` (viewers): versions and diffs, without restoring one into the form. */
export function VersionHistory({ config, editor, readOnly = false }: { config: Config; editor: EditorHandle; readOnly?: boolean }) {
  const [fromParam, setFrom] = useUrlState("from");
  const [toParam, setTo] = useUrlState("to");
  const numbers = config.versions.map((v) => v.version).sort((x, y) => y - x);
  const valid = (raw: string | null) => {
    const n = Number(raw);
    return raw && numbers.includes(n) ? n : null;
  };
  const to = valid(toParam) ?? config.latest_version;
  const from = valid(fromParam) ?? numbers.find((v) => v < to) ?? numbers.find((v) => v !== to) ?? to;
  const versions = [...config.versions].sort((x, y) => y.version - x.version);

  return (
    <div className="flex flex-col gap-6">
      <section aria-labelledby="versions-title" className="flex flex-col gap-2">
        <h2 id="versions-title" className="font-semibold">
          Versions
        </h2>
        <Card>
          <ul className="divide-y">
            {versions.map((v) => (
              <li key={v.id} className="flex flex-wrap items-center gap-3 px-4 py-2.5 text-sm">
                <Badge variant={v.version === config.latest_version ? "default" : "secondary"}>
                  v{v.version}
                  {v.version === config.latest_version && " · latest"}
                </Badge>
                <span className="min-w-0 flex-1 truncate">
                  {v.message || <span className="text-muted-foreground italic">no change note</span>}
                </span>
                <code className="text-xs text-muted-foreground" title={`config hash ${v.config_hash}`}>
                  {v.config_hash.slice(0, 8)}
                </code>
                <span className="text-muted-foreground" title={formatDate(v.created_at)}>
                  {timeAgo(v.created_at)}
                </span>
                <div className="flex gap-1">
                  {v.version > 1 && (
                    <Button
                      variant="ghost"
                      size="sm"
                      onClick={() => {
                        setFrom(String(v.version - 1));
                        setTo(String(v.version));
                      }}
                    >
                      <ArrowLeftRight /> Diff with v{v.version - 1}
                    </Button>
                  )}
                  {!readOnly && v.version !== config.latest_version && (
                    <RestoreButton configId={config.id} version={v.version} editor={editor} />
                  )}
                </div>
              </li>
            ))}
          </ul>
        </Card>
      </section>
      <section aria-labelledby="diff-title" className="flex flex-col gap-3">
        <h2 id="diff-title" className="font-semibold">
          Compare versions
        </h2>
        {numbers.length < 2 ? (
          <EmptyState
            icon={<History className="size-8" />}
            title="Only one version so far"
            description="Each save makes a new version; once there are two, compare any pair here."
          />
        ) : (
          <>
            <div className="flex flex-wrap items-end gap-3">
              <VersionSelect id="diff-from" label="From" value={from} versions={numbers} onChange={(v) => setFrom(String(v))} />
              <Button
                variant="outline"
                size="icon"
                aria-label="Swap the versions"
                onClick={() => {
                  setFrom(String(to));
                  setTo(String(from));
                }}
              >
                <ArrowLeftRight />
              </Button>
              <VersionSelect id="diff-to" label="To" value={to} versions={numbers} onChange={(v) => setTo(String(v))} />
            </div>
            {from === to ? (
              <p className="text-sm text-muted-foreground">Pick two different versions to compare.</p>
            ) : (
              <VersionDiff config={config} from={from} to={to} />
            )}
          </>
        )}
      </section>
    </div>
  );
}

function RestoreButton({ configId, version, editor }: { configId: number; version: number; editor: EditorHandle }) {
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  return (
    <Button
      variant="ghost"
      size="sm"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          const found = await queryClient.fetchQuery(versionQuery(configId, version));
          editor.loadIntoForm(found.data as ConfigData, `Version ${version}`);
        } catch (e) {
          toast.error(errorMessage(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      <RotateCcw /> Restore
    </Button>
  );
}
