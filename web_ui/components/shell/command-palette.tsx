"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Command } from "cmdk";
import { Cpu, Database, FileCog, FolderKanban, GitCompare, Play, ScrollText, Shield, UserRound } from "lucide-react";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { Dialog, DialogContent, DialogTitle } from "@/components/ui/dialog";
import { api, unwrap } from "@/lib/api/client";
import { useDebounced } from "@/lib/hooks/use-debounced";
import { useUi } from "@/lib/store/ui";

const PAGES = [
  { href: "/projects/", label: "Projects", icon: FolderKanban },
  { href: "/datasets/", label: "Datasets", icon: Database },
  { href: "/agents/", label: "Agents", icon: Cpu },
  { href: "/compare/", label: "Compare runs", icon: GitCompare },
  { href: "/account/", label: "Account: API tokens and sessions", icon: UserRound },
  { href: "/admin/", label: "Admin: users", icon: Shield },
  { href: "/admin/audit/", label: "Admin: audit log", icon: ScrollText },
];

/** How long typing must pause before the palette searches. */
const SEARCH_PAUSE_MS = 150;

const itemClass =
  "flex cursor-default items-center gap-2 rounded-md px-2 py-1.5 text-sm aria-selected:bg-accent aria-selected:text-accent-foreground [&_svg]:size-4 [&_svg]:text-muted-foreground";

/** Ctrl/Cmd-K: jump to any page, project, run or config by typing part of its name. */
export function CommandPalette() {
  const router = useRouter();
  const { paletteOpen: open, setPaletteOpen: setOpen, projectId } = useUi();
  const [search, setSearch] = useState("");
  // The three searches go out once typing pauses; the last results stay up meanwhile.
  const q = useDebounced(search, SEARCH_PAUSE_MS) || undefined;

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        setOpen(!useUi.getState().paletteOpen);
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [setOpen]);

  const projects = useQuery({
    queryKey: ["palette", "projects", q],
    queryFn: () => unwrap(api.GET("/projects", { params: { query: { q, limit: 8 } } })),
    enabled: open,
    placeholderData: keepPreviousData,
  });
  const runs = useQuery({
    queryKey: ["palette", "runs", q],
    queryFn: () => unwrap(api.GET("/runs", { params: { query: { q, limit: 8, order: "desc" } } })),
    enabled: open,
    placeholderData: keepPreviousData,
  });
  const configs = useQuery({
    queryKey: ["palette", "configs", projectId, q],
    queryFn: () =>
      unwrap(
        api.GET("/projects/{project_id}/configs", {
          params: { path: { project_id: projectId! }, query: { q, limit: 8 } },
        }),
      ),
    enabled: open && projectId != null,
    placeholderData: keepPreviousData,
  });

  function go(href: string) {
    setOpen(false);
    setSearch("");
    router.push(href);
  }

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogContent className="max-w-xl gap-0 p-0" hideClose aria-describedby={undefined}>
        <DialogTitle className="sr-only">Jump to</DialogTitle>
        {/* The server searches; cmdk only ranks what it returned. */}
        <Command shouldFilter={false} label="Jump to" className="flex flex-col">
          <Command.Input
            value={search}
            onValueChange={setSearch}
            placeholder="Jump to a page, project, run or config…"
            className="h-11 border-b bg-transparent px-4 text-sm outline-none placeholder:text-muted-foreground"
          />
          <Command.List className="max-h-96 overflow-y-auto p-2">
            <Command.Empty className="p-4 text-center text-sm text-muted-foreground">
              Nothing matches “{search}”.
            </Command.Empty>
            <Command.Group heading="Pages" className="text-xs text-muted-foreground [&_[cmdk-group-heading]]:px-2 [&_[cmdk-group-heading]]:py-1">
              {PAGES.filter((p) => p.label.toLowerCase().includes(search.toLowerCase())).map(
                ({ href, label, icon: Icon }) => (
                  <Command.Item key={href} value={`page-${href}`} onSelect={() => go(href)} className={itemClass}>
                    <Icon /> {label}
                  </Command.Item>
                ),
              )}
            </Command.Group>
            {(projects.data?.items.length ?? 0) > 0 && (
              <Command.Group heading="Projects" className="text-xs text-muted-foreground [&_[cmdk-group-heading]]:px-2 [&_[cmdk-group-heading]]:py-1">
                {projects.data!.items.map((p) => (
                  <Command.Item key={p.id} value={`project-${p.id}`} onSelect={() => go(`/project/?id=${p.id}`)} className={itemClass}>
                    <FolderKanban /> {p.name}
                  </Command.Item>
                ))}
              </Command.Group>
            )}
            {(runs.data?.items.length ?? 0) > 0 && (
              <Command.Group heading="Runs" className="text-xs text-muted-foreground [&_[cmdk-group-heading]]:px-2 [&_[cmdk-group-heading]]:py-1">
                {runs.data!.items.map((r) => (
                  <Command.Item key={r.id} value={`run-${r.id}`} onSelect={() => go(`/run/?id=${r.id}`)} className={itemClass}>
                    <Play /> <span className="truncate">{r.name}</span>
                    <span className="ml-auto text-xs text-muted-foreground">#{r.id} · {r.state}</span>
                  </Command.Item>
                ))}
              </Command.Group>
            )}
            {(configs.data?.items.length ?? 0) > 0 && (
              <Command.Group heading="Configs" className="text-xs text-muted-foreground [&_[cmdk-group-heading]]:px-2 [&_[cmdk-group-heading]]:py-1">
                {configs.data!.items.map((c) => (
                  <Command.Item key={c.id} value={`config-${c.id}`} onSelect={() => go(`/config/?id=${c.id}`)} className={itemClass}>
                    <FileCog /> {c.name}
                  </Command.Item>
                ))}
              </Command.Group>
            )}
          </Command.List>
        </Command>
      </DialogContent>
    </Dialog>
  );
}
