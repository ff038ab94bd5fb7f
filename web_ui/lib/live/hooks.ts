"use client";

import { useEffect, useRef } from "react";
import { liveSocket, type LiveEvent } from "./socket";

/** Call `onEvent` for every event of `topic` while mounted. `after` = the seq to replay from
 *  (0: everything stored; null: live only). The latest `onEvent` is always the one called. */
export function useTopic(
  topic: string | null,
  onEvent: (event: LiveEvent) => void,
  after: number | null = null,
) {
  const handler = useRef(onEvent);
  useEffect(() => {
    handler.current = onEvent;
  });
  useEffect(() => {
    if (!topic) return;
    return liveSocket.subscribe(topic, (event) => handler.current(event), after);
    // `after` only matters for the first subscription of a topic.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [topic]);
}
