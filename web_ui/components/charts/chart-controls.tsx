"use client";

import { useId } from "react";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Switch } from "@/components/ui/switch";
import { cn } from "@/lib/utils";
import { X_MODES, type ChartSettings, type XMode } from "./types";

/** One toolbar for a grid of charts: x axis, log y, smoothing, outlier clipping. */
export function ChartControls({
  settings,
  onChange,
  xModes = X_MODES.map((m) => m.value),
  className,
}: {
  settings: ChartSettings;
  onChange: (next: ChartSettings) => void;
  /** the x modes to offer (e.g. leave out epoch when no run reports epochs) */
  xModes?: XMode[];
  className?: string;
}) {
  const id = useId();
  const set = (patch: Partial<ChartSettings>) => onChange({ ...settings, ...patch });
  return (
    <div className={cn("flex flex-wrap items-center gap-x-5 gap-y-2 text-sm", className)}>
      <div className="flex items-center gap-2">
        <Label htmlFor={`${id}-x`}>X axis</Label>
        <Select value={settings.xMode} onValueChange={(v) => set({ xMode: v as XMode })}>
          <SelectTrigger id={`${id}-x`} className="h-8 w-36">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            {X_MODES.filter((m) => xModes.includes(m.value)).map((m) => (
              <SelectItem key={m.value} value={m.value}>
                {m.label}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      <div className="flex items-center gap-2">
        <Switch id={`${id}-log`} checked={settings.logY} onCheckedChange={(logY) => set({ logY })} />
        <Label htmlFor={`${id}-log`}>Log scale</Label>
      </div>
      <div className="flex items-center gap-2">
        <Switch
          id={`${id}-clip`}
          checked={settings.clipOutliers}
          onCheckedChange={(clipOutliers) => set({ clipOutliers })}
        />
        <Label htmlFor={`${id}-clip`}>Clip outliers</Label>
      </div>
      <div className="flex items-center gap-2">
        <Label htmlFor={`${id}-smooth`}>Smoothing</Label>
        <input
          id={`${id}-smooth`}
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={settings.smoothing}
          onChange={(e) => set({ smoothing: Number(e.target.value) })}
          className="w-32 accent-primary"
          aria-valuetext={settings.smoothing > 0 ? `EMA ${settings.smoothing.toFixed(2)}` : "off"}
        />
        <span className="w-8 text-xs text-muted-foreground tabular-nums">
          {settings.smoothing > 0 ? settings.smoothing.toFixed(2) : "off"}
        </span>
      </div>
    </div>
  );
}

/** Settings <-> a compact query-string value ("x=epoch,log,clip,s=0.6"), for shareable views. */
export function encodeChartSettings(s: ChartSettings): string | null {
  const parts: string[] = [];
  if (s.xMode !== "step") parts.push(`x=${s.xMode}`);
  if (s.logY) parts.push("log");
  if (s.clipOutliers) parts.push("clip");
  if (s.smoothing > 0) parts.push(`s=${s.smoothing}`);
  return parts.length ? parts.join(",") : null;
}

export function decodeChartSettings(value: string | null): ChartSettings {
  const out: ChartSettings = { xMode: "step", logY: false, smoothing: 0, clipOutliers: false };
  for (const part of (value ?? "").split(",")) {
    const [key, v] = part.split("=");
    if (key === "x" && X_MODES.some((m) => m.value === v)) out.xMode = v as XMode;
    else if (key === "log") out.logY = true;
    else if (key === "clip") out.clipOutliers = true;
    else if (key === "s") {
      const n = Number(v);
      if (Number.isFinite(n)) out.smoothing = Math.min(0.99, Math.max(0, n));
    }
  }
  return out;
}
