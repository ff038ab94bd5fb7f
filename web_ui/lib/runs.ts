// Run states and the helpers every run view shares.
import type { Schemas } from "@/lib/api/client";

export type RunState = Schemas["RunState"];
export type Run = Schemas["RunOut"];

export const RUN_STATES: RunState[] = ["queued", "running", "succeeded", "failed", "canceled"];
export const FINISHED_STATES: RunState[] = ["succeeded", "failed", "canceled"];

export function isFinished(state: RunState): boolean {
  return FINISHED_STATES.includes(state);
}

/** A colour-blind-safe palette (Okabe–Ito, then Tol's muted) for run lines and markers:
 *  distinguishable with protanopia and deuteranopia, and on light and dark backgrounds. */
export const RUN_PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#332288",
  "#88CCEE",
  "#44AA99",
  "#117733",
  "#999933",
  "#AA4499",
  "#882255",
];

export function runColor(index: number): string {
  return RUN_PALETTE[index % RUN_PALETTE.length]!;
}
