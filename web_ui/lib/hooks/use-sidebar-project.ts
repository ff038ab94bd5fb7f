"use client";

import { useEffect } from "react";
import { useUi } from "@/lib/store/ui";

/** A page of a project shows that project in the sidebar (null while it is not known yet:
 *  the sidebar keeps the last one). */
export function useSidebarProject(projectId: number | null) {
  const setProjectId = useUi((s) => s.setProjectId);
  useEffect(() => {
    if (projectId) setProjectId(projectId);
  }, [projectId, setProjectId]);
}
