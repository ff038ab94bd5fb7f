"use client";

import { ChevronDown, LineChart } from "lucide-react";
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

/** The splits people look at first come first; any other group follows, by name. */
const GROUP_ORDER = ["val", "train", "test", "system"];

/** "val/acc@1" -> "val": groups the menu by split (train, val, test, system). */
function groupOf(name: string): string {
  const slash = name.indexOf("/");
  return slash > 0 ? name.slice(0, slash) : "other";
}

/** Which metrics to chart: any metric any of the runs logged, grouped by split. The menu stays
 *  open while ticking, so several charts can be turned on in one go. */
export function MetricChooser({
  available,
  chosen,
  isDefault,
  onChange,
  onReset,
}: {
  /** the union of the runs' metric names (null while loading) */
  available: string[] | null;
  chosen: string[];
  isDefault: boolean;
  onChange: (metrics: string[]) => void;
  onReset: () => void;
}) {
  const names = [...new Set([...(available ?? []), ...chosen])].sort();
  const groups = new Map<string, string[]>(GROUP_ORDER.map((g) => [g, []]));
  for (const name of names) groups.set(groupOf(name), [...(groups.get(groupOf(name)) ?? []), name]);
  for (const [group, members] of groups) if (members.length === 0) groups.delete(group);
  const toggle = (name: string) =>
    onChange(chosen.includes(name) ? chosen.filter((m) => m !== name) : [...chosen, name]);
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="outline" size="sm">
          <LineChart /> Metrics ({chosen.length}) <ChevronDown className="opacity-60" />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="start" className="w-72">
        {available === null && <DropdownMenuLabel>Loading the runs’ metrics…</DropdownMenuLabel>}
        {[...groups.entries()].map(([group, members], i) => (
          <div key={group} role="group" aria-label={group}>
            {i > 0 && <DropdownMenuSeparator />}
            <DropdownMenuLabel>{group}</DropdownMenuLabel>
            {members.map((name) => (
              <DropdownMenuCheckboxItem
                key={name}
                checked={chosen.includes(name)}
                onSelect={(e) => e.preventDefault()}
                onCheckedChange={() => toggle(name)}
              >
                <span className="truncate font-mono text-xs">{name}</span>
              </DropdownMenuCheckboxItem>
            ))}
          </div>
        ))}
        {!isDefault && (
          <>
            <DropdownMenuSeparator />
            <DropdownMenuItem onSelect={onReset}>Reset to the default metrics</DropdownMenuItem>
          </>
        )}
      </DropdownMenuContent>
    </DropdownMenu>
  );
}
