"use client";

import { WifiOff } from "lucide-react";
import { useEffect, useState } from "react";
import { useLiveStatus } from "@/lib/live/socket";

/** Shown while the live connection is down (after a short grace period, so a reconnect that
 *  succeeds at once does not flash); it clears itself on reconnect. */
export function LiveBanner() {
  const { status, downSince } = useLiveStatus();
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    if (status !== "down" || downSince == null) {
      setVisible(false);
      return;
    }
    const wait = Math.max(0, 1500 - (Date.now() - downSince));
    const timer = setTimeout(() => setVisible(true), wait);
    return () => clearTimeout(timer);
  }, [status, downSince]);
  if (!visible) return null;
  return (
    <div
      role="status"
      data-testid="live-banner"
      className="flex items-center gap-2 border-b border-warning/40 bg-warning/15 px-4 py-1.5 text-sm"
    >
      <WifiOff className="size-4" aria-hidden />
      Live updates paused: reconnecting to the dashboard… Nothing is lost; the views catch up when
      it is back.
    </div>
  );
}
