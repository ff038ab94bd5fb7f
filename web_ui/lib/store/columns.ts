// Which columns each run table shows, per user and project, kept in localStorage so that a
// table looks the same after a reload. The URL (`cols=`) wins when it names columns: a shared
// link shows the columns its sender chose.
import { create } from "zustand";
import { persist } from "zustand/middleware";

export interface ColumnView {
  /** column ids, in order (see components/runs/run-columns.ts) */
  cols: string[];
  /** hide metric and config columns whose value is the same in every run shown */
  onlyDiffering: boolean;
}

interface ColumnState {
  views: Record<string, ColumnView>;
  setView: (key: string, view: Partial<ColumnView>, fallback: ColumnView) => void;
}

/** The key of one user's view of one project's table. */
export function columnViewKey(userId: number | undefined, projectId: number): string {
  return `${userId ?? 0}:${projectId}`;
}

export const useColumnPrefs = create<ColumnState>()(
  persist(
    (set) => ({
      views: {},
      setView: (key, view, fallback) =>
        set((s) => ({ views: { ...s.views, [key]: { ...(s.views[key] ?? fallback), ...view } } })),
    }),
    { name: "visionyard-run-columns", version: 1 },
  ),
);
