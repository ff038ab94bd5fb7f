"use client";

import { Cpu } from "lucide-react";
import { useState } from "react";
import { Progress } from "@/components/ui/progress";
import { useTopic } from "@/lib/live/hooks";
import { metricPoints } from "@/lib/live/metrics";
import { formatBytes } from "@/lib/utils";

/** One GPU as an agent registers it (`visionyard.agent.gpus.GpuInfo`); the schema types the
 *  column as any JSON, so every field is read defensively. */
export interface AgentGpu {
  index: number;
  name: string;
  memory_total_mb: number | null;
  uuid: string;
}

export function parseGpus(raw: unknown[]): AgentGpu[] {
  return raw.flatMap((item, i) => {
    if (typeof item !== "object" || item === null) return [];
    const gpu = item as Record<string, unknown>;
    return [
      {
        index: typeof gpu.index === "number" ? gpu.index : i,
        name: typeof gpu.name === "string" ? gpu.name : "GPU",
        memory_total_mb: typeof gpu.memory_total_mb === "number" ? gpu.memory_total_mb : null,
        uuid: typeof gpu.uuid === "string" ? gpu.uuid : "",
      },
    ];
  });
}

interface Sample {
  util?: number;
  memUsedMb?: number;
}

const MB = 1024 * 1024;
const SAMPLE = /^system\/gpu(\d+)_(util_percent|mem_used_mb)$/;

/** The latest GPU samples of the run an agent trains: the agent samples its GPUs (utilisation,
 *  memory) only while a trainer runs, and sends them as the run's "system/gpu<i>_…" metrics. */
function useGpuSamples(runId: number | null): Record<number, Sample> {
  const [samples, setSamples] = useState<Record<number, Sample>>({});
  useTopic(runId ? `run:${runId}` : null, (event) => {
    const points = metricPoints(event);
    const match = points.length ? SAMPLE.exec(points[0]!.name) : null;
    const value = points.at(-1)?.value; // the newest sample of the chunk
    if (!match || typeof value !== "number") return;
    const index = Number(match[1]);
    setSamples((prev) => ({
      ...prev,
      [index]: { ...prev[index], [match[2] === "util_percent" ? "util" : "memUsedMb"]: value },
    }));
  });
  return runId ? samples : {};
}

function Meter({ label, value, text }: { label: string; value: number | null; text: string }) {
  return (
    <div className="grid grid-cols-[5.5rem_1fr_auto] items-center gap-2 text-xs">
      <span className="text-muted-foreground">{label}</span>
      <Progress value={value} label={`${label}: ${text}`} className="h-2" />
      <span className="min-w-20 text-right tabular-nums">{text}</span>
    </div>
  );
}

export function GpuUsage({ gpus, runId }: { gpus: AgentGpu[]; runId: number | null }) {
  const samples = useGpuSamples(runId);
  if (gpus.length === 0) {
    return (
      <p className="flex items-center gap-2 text-sm text-muted-foreground">
        <Cpu className="size-4" aria-hidden /> No GPU: runs train on the CPU.
      </p>
    );
  }
  return (
    <ul className="flex flex-col gap-3" aria-label="GPUs">
      {gpus.map((gpu) => {
        const sample = samples[gpu.index];
        const total = gpu.memory_total_mb;
        const used = sample?.memUsedMb;
        return (
          <li key={gpu.uuid || gpu.index} className="flex flex-col gap-1.5">
            <p className="text-sm">
              <span className="font-medium">GPU {gpu.index}</span> · {gpu.name}
              {total != null && <span className="text-muted-foreground"> · {formatBytes(total * MB)}</span>}
            </p>
            {runId == null ? (
              <p className="text-xs text-muted-foreground">Idle: utilisation is sampled while a run trains.</p>
            ) : (
              <>
                <Meter
                  label="Utilisation"
                  value={sample?.util != null ? sample.util / 100 : null}
                  text={sample?.util != null ? `${Math.round(sample.util)} %` : "sampling…"}
                />
                <Meter
                  label="Memory"
                  value={used != null && total ? used / total : null}
                  text={used != null ? `${formatBytes(used * MB)}${total ? ` / ${formatBytes(total * MB)}` : ""}` : "sampling…"}
                />
              </>
            )}
          </li>
        );
      })}
    </ul>
  );
}
