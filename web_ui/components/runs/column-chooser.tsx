"use client";

import { Columns3 } from "lucide-react";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuCheckboxItem,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { DEFAULT_COLUMNS, FIXED_COLUMNS, metricColumnIds } from "./run-columns";
import type { RunKeys } from "./run-query";

/** Which columns the table shows: the fixed ones, each metric's statistics and the config
 *  fields the project's runs have; a search narrows the long lists; "only columns that
 *  differ" hides metric and config columns that are the same in every run shown. */
export function ColumnChooser({
  keys,
  cols,
  onCols,
  onlyDiffering,
  onOnlyDiffering,
}: {
  keys: RunKeys | undefined;
  cols: string[];
  onCols: (cols: string[]) => void;
  onlyDiffering: boolean;
  onOnlyDiffering: (value: boolean) => void;
}) {
  const [search, setSearch] = useState("");
  const needle = search.trim().toLowerCase();
  const matches = (text: string) => !needle || text.toLowerCase().includes(needle);
  const toggle = (id: string, on: boolean) =>
    onCols(on ? [...cols.filter((c) => c !== id), id] : cols.filter((c) => c !== id));
  // Keep the menu open while several columns are ticked.
  const keepOpen = (event: Event) => event.preventDefault();
  const item = (id: string, label: string) => (
    <DropdownMenuCheckboxItem
      key={id}
      checked={cols.includes(id)}
      onCheckedChange={(on) => toggle(id, on === true)}
      onSelect={keepOpen}
    >
      {label}
    </DropdownMenuCheckboxItem>
  );
  const metrics = keys ? metricColumnIds(keys).filter((m) => matches(m.name)) : [];
  const params = keys?.params.filter((p) => matches(p.name)) ?? [];
  return (
    <DropdownMenu onOpenChange={(open) => !open && setSearch("")}>
      <DropdownMenuTrigger asChild>
        <Button variant="outline">
          <Columns3 /> Columns
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end" className="w-72">
        <div className="p-1">
          <Input
            aria-label="Find a column"
            placeholder="Find a column…"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            // the menu's type-ahead would otherwise take the keys
            onKeyDown={(e) => e.stopPropagation()}
            className="h-8"
          />
        </div>
        <DropdownMenuCheckboxItem
          checked={onlyDiffering}
          onCheckedChange={(on) => onOnlyDiffering(on === true)}
          onSelect={keepOpen}
        >
          Only columns that differ
        </DropdownMenuCheckboxItem>
        <DropdownMenuItem onSelect={() => onCols(DEFAULT_COLUMNS)}>Reset to default columns</DropdownMenuItem>
        <DropdownMenuSeparator />
        <DropdownMenuLabel>Run</DropdownMenuLabel>
        {FIXED_COLUMNS.filter((c) => matches(c.label)).map((c) => item(c.id, c.label))}
        {metrics.length > 0 && <DropdownMenuSeparator />}
        {metrics.map((m) => (
          <div key={m.name} role="group" aria-label={m.name}>
            <DropdownMenuLabel className="font-mono">{m.name}</DropdownMenuLabel>
            {m.ids.map((id) => item(id, `${m.name} · ${id.split(":")[0]}`))}
          </div>
        ))}
        {!keys && <DropdownMenuLabel>Loading metrics…</DropdownMenuLabel>}
        {params.length > 0 && <DropdownMenuSeparator />}
        {params.length > 0 && <DropdownMenuLabel>Config</DropdownMenuLabel>}
        {params.map((p) => item(`param:${p.name}`, p.name))}
      </DropdownMenuContent>
    </DropdownMenu>
  );
}
