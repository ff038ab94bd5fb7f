// UI state that outlives a page: theme, the project last worked in, the runs picked for
// comparison. Kept in localStorage (per browser, per user of that browser).
import { create } from "zustand";
import { persist } from "zustand/middleware";

export type Theme = "light" | "dark" | "system";

interface UiState {
  theme: Theme;
  setTheme: (theme: Theme) => void;
  /** the project the sidebar's project links point at */
  projectId: number | null;
  setProjectId: (id: number | null) => void;
  /** runs picked for the compare page (from the table or the palette) */
  compare: number[];
  toggleCompare: (runId: number) => void;
  setCompare: (runIds: number[]) => void;
  paletteOpen: boolean;
  setPaletteOpen: (open: boolean) => void;
}

export const useUi = create<UiState>()(
  persist(
    (set) => ({
      theme: "system",
      setTheme: (theme) => set({ theme }),
      projectId: null,
      setProjectId: (projectId) => set({ projectId }),
      compare: [],
      toggleCompare: (runId) =>
        set((s) => ({
          compare: s.compare.includes(runId)
            ? s.compare.filter((id) => id !== runId)
            : [...s.compare, runId],
        })),
      setCompare: (compare) => set({ compare }),
      paletteOpen: false,
      setPaletteOpen: (paletteOpen) => set({ paletteOpen }),
    }),
    {
      name: "visionyard-ui",
      partialize: (s) => ({ theme: s.theme, projectId: s.projectId, compare: s.compare }),
    },
  ),
);

/** Apply a theme to <html> (also run, inlined, before first paint by app/layout.tsx). */
export function applyTheme(theme: Theme) {
  const dark =
    theme === "dark" ||
    (theme === "system" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle("dark", dark);
}
