"use client";

import { useId, useMemo, useState } from "react";
import { useThemeVersion } from "@/components/charts/theme";
import { Label } from "@/components/ui/label";
import { Switch } from "@/components/ui/switch";

type Rgb = [number, number, number];

/** Light and dark ends of the heatmap's scale per theme (a blue sequential scale). */
const SCALE: Record<"light" | "dark", [Rgb, Rgb]> = {
  light: [
    [247, 251, 255],
    [8, 48, 107],
  ],
  dark: [
    [30, 34, 44],
    [158, 202, 225],
  ],
};

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i]! + (b[i]! - a[i]!) * t)) as Rgb;
}

function luminance([r, g, b]: Rgb): number {
  const c = [r, g, b].map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
}

/** Black or white, whichever reads better on `bg` (at least 4.5:1 on any colour). */
function textOn(bg: Rgb): string {
  const l = luminance(bg);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000" : "#fff";
}

/** Rows = true class, columns = predicted class. A real <table>: screen readers read it cell
 *  by cell with both class names; the colour only repeats what the numbers say. */
export function ConfusionMatrix({ matrix, classes, title }: { matrix: number[][]; classes: string[]; title: string }) {
  const id = useId();
  const [normalised, setNormalised] = useState(false);
  useThemeVersion(); // re-render on theme change: the scale depends on it
  const dark = typeof document !== "undefined" && document.documentElement.classList.contains("dark");
  const [low, high] = SCALE[dark ? "dark" : "light"];
  const rowSums = useMemo(() => matrix.map((row) => row.reduce((a, b) => a + b, 0)), [matrix]);
  const max = useMemo(() => Math.max(1, ...matrix.flat()), [matrix]);
  const name = (i: number) => classes[i] ?? String(i);
  const compact = classes.length > 15;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex items-center gap-2">
        <Switch id={`${id}-norm`} checked={normalised} onCheckedChange={setNormalised} />
        <Label htmlFor={`${id}-norm`}>Normalise rows (recall per class)</Label>
      </div>
      <div className="max-h-[70vh] overflow-auto">
        <table className="border-separate border-spacing-0.5 text-xs" aria-label={title}>
          <caption className="caption-top pb-1 text-left text-xs text-muted-foreground">
            Rows: true class · columns: predicted class
            {normalised ? " · share of each true class" : " · number of images"}
          </caption>
          <thead>
            <tr>
              <th scope="col" className="sticky top-0 left-0 z-20 bg-card px-2 text-left font-medium text-muted-foreground">
                true \ predicted
              </th>
              {classes.map((c, j) => (
                <th
                  key={j}
                  scope="col"
                  className="sticky top-0 z-10 bg-card px-1 pb-1 font-medium"
                  title={c}
                >
                  <span className={compact ? "block max-w-16 truncate [writing-mode:vertical-rl]" : "block max-w-24 truncate"}>
                    {c}
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {matrix.map((row, i) => (
              <tr key={i}>
                <th scope="row" className="sticky left-0 z-10 max-w-32 truncate bg-card px-2 text-right font-medium" title={name(i)}>
                  {name(i)}
                </th>
                {row.map((count, j) => {
                  const share = rowSums[i] ? count / rowSums[i]! : 0;
                  const intensity = normalised ? share : count / max;
                  const bg = mix(low, high, intensity);
                  const text = normalised ? `${(share * 100).toFixed(compact ? 0 : 1)}%` : String(count);
                  return (
                    <td
                      key={j}
                      className={
                        "text-center tabular-nums " +
                        (compact ? "h-7 min-w-7 px-0.5" : "h-10 min-w-12 px-1.5") +
                        (i === j ? " font-semibold ring-1 ring-inset ring-foreground/30" : "")
                      }
                      style={{ background: `rgb(${bg.join(",")})`, color: textOn(bg) }}
                      title={`true ${name(i)}, predicted ${name(j)}: ${count} (${(share * 100).toFixed(1)}% of ${name(i)})`}
                    >
                      {text}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
