"use client";

import { useEffect, useState } from "react";

/** Colours the canvas needs, read from the theme tokens in app/globals.css. */
export interface ChartTheme {
  text: string;
  muted: string;
  grid: string;
  border: string;
  background: string;
}

let probe: CanvasRenderingContext2D | null = null;

/** Any CSS colour (oklch tokens included) as rgb(a) the canvas is sure to accept. */
function toCanvasColor(css: string, fallback: string): string {
  if (!css) return fallback;
  probe ??= document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  if (!probe) return fallback;
  probe.clearRect(0, 0, 1, 1);
  probe.fillStyle = fallback;
  probe.fillStyle = css; // ignored if the canvas cannot parse it: the fallback stays
  probe.fillRect(0, 0, 1, 1);
  const [r, g, b, a] = probe.getImageData(0, 0, 1, 1).data;
  return `rgba(${r}, ${g}, ${b}, ${(a ?? 255) / 255})`;
}

export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const token = (name: string, fallback: string) =>
    toCanvasColor(style.getPropertyValue(name).trim(), fallback);
  return {
    text: token("--foreground", "#222"),
    muted: token("--muted-foreground", "#666"),
    grid: token("--chart-grid", "#e5e5e5"),
    border: token("--border", "#ddd"),
    background: token("--card", "#fff"),
  };
}

/** A number that changes whenever <html>'s class (the `dark` theme class) changes, so charts
 *  redraw with the new colours. */
export function useThemeVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const observer = new MutationObserver(() => setVersion((v) => v + 1));
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
    return () => observer.disconnect();
  }, []);
  return version;
}

/** A colour with an alpha (for the raw curve behind a smoothed one). Hex (#rrggbb) or any
 *  CSS colour via color-mix. */
export function withAlpha(color: string, alpha: number): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) {
    return `${color}${Math.round(alpha * 255).toString(16).padStart(2, "0")}`;
  }
  return toCanvasColor(`color-mix(in srgb, ${color} ${Math.round(alpha * 100)}%, transparent)`, color);
}
