"use client";

import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import type { ProjectRole } from "@/lib/hooks/use-project-role";
import { ROLES } from "./roles";

export function RoleSelect({
  id,
  value,
  onChange,
  label,
  disabled,
}: {
  id?: string;
  value: ProjectRole;
  onChange: (role: ProjectRole) => void;
  /** the accessible name, when no <Label> names it */
  label?: string;
  disabled?: boolean;
}) {
  return (
    <Select value={value} onValueChange={(v) => onChange(v as ProjectRole)} disabled={disabled}>
      <SelectTrigger id={id} aria-label={label} className="w-32">
        <SelectValue />
      </SelectTrigger>
      <SelectContent>
        {ROLES.map((role) => (
          <SelectItem key={role.value} value={role.value}>
            {role.label}
          </SelectItem>
        ))}
      </SelectContent>
    </Select>
  );
}
