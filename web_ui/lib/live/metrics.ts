import type { LiveEvent } from "./socket";

/** One metric point from a run topic's live events. */
export interface LivePoint {
  name: string;
  step: number;
  value: number | null;
  time: number;
  epoch: number | null;
}

interface MetricsPayload {
  steps?: unknown;
  values?: unknown;
  times?: unknown;
  epochs?: unknown;
}

const numberOrNull = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The points of a "metrics" event (one metric's points as the agent relayed them, in step
 *  order), or none for any other event. A client catching up may be sent points it already
 *  has again: keep one point per step (the later one). */
export function metricPoints(event: LiveEvent): LivePoint[] {
  const d = event.data as { kind?: unknown; name?: unknown; payload?: MetricsPayload };
  if (d.kind !== "metrics" || typeof d.name !== "string" || !d.payload) return [];
  const { steps, values, times, epochs } = d.payload;
  if (!Array.isArray(steps) || !Array.isArray(values) || !Array.isArray(times)) return [];
  const epochList = Array.isArray(epochs) ? epochs : [];
  const points: LivePoint[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (typeof step !== "number") continue;
    points.push({
      name: d.name,
      step,
      value: numberOrNull(values[i]),
      time: numberOrNull(times[i]) ?? event.ts,
      epoch: numberOrNull(epochList[i]),
    });
  }
  return points;
}
