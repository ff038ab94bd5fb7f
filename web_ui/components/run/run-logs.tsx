"use client";

import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowDownToLine, ChevronDown, ChevronUp, ScrollText } from "lucide-react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useFrameBatch } from "@/components/charts";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { EmptyState, ErrorState, LoadingRows, Spinner } from "@/components/ui/states";
import { api, unwrap, type Schemas } from "@/lib/api/client";
import { useTopic } from "@/lib/live/hooks";
import type { LiveEvent } from "@/lib/live/socket";
import { isFinished } from "@/lib/runs";
import { cn } from "@/lib/utils";
import { appendRows, findMatches, splitMatches, type LogLine, type LogRow } from "./log-lines";

type Run = Schemas["RunDetail"];

/** Lines per request: the end of the log first, then pages above it as the user scrolls up. */
const PAGE = 2000;
const ROW_HEIGHT = 20;

// 24 h, like the trainer's own clock and every log viewer: "16:49:39", never "04:49:39 PM".
const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function levelClass(level: string): string {
  const l = level.toLowerCase();
  if (l === "error" || l === "critical") return "text-destructive";
  if (l === "warning" || l === "warn") return "text-amber-700 dark:text-amber-400";
  return "text-muted-foreground";
}

async function fetchPage(runId: number, beforeId?: number) {
  return unwrap(
    api.GET("/runs/{run_id}/logs", {
      params: { path: { run_id: runId }, query: { tail: PAGE, before_id: beforeId } },
    }),
  );
}

interface LogState {
  rows: LogRow[];
  lastId: number;
  hasEarlier: boolean;
}

/** The run's log: opens at its end, loads older pages when scrolled to the top, follows new
 *  lines live (pausing while the user reads further up), searchable with next/previous. */
export function RunLogs({ run }: { run: Run }) {
  const live = !isFinished(run.state);
  const [log, setLog] = useState<LogState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  /** the match last jumped to (-1: none yet since the query changed) */
  const [current, setCurrent] = useState(-1);
  const scrollRef = useRef<HTMLDivElement>(null);
  /** rows added at the top by the last older page: the scroll position moves down by them */
  const prepended = useRef(0);
  const early = useRef<LogLine[]>([]);
  const loaded = log != null;

  const load = useCallback(async () => {
    setError(null);
    try {
      const page = await fetchPage(run.id);
      setLog({
        rows: appendRows([], page.items),
        lastId: page.last_id ?? 0,
        hasEarlier: page.has_earlier ?? false,
      });
    } catch (e) {
      setError(e);
    }
  }, [run.id]);
  useEffect(() => {
    void load();
  }, [load]);

  const append = useCallback((lines: LogLine[]) => {
    setLog((state) => {
      if (!state) return state;
      const fresh = lines.filter((l) => l.id > state.lastId).sort((a, b) => a.id - b.id);
      if (!fresh.length) return state;
      return { ...state, rows: appendRows(state.rows, fresh), lastId: fresh[fresh.length - 1]!.id };
    });
  }, []);
  const push = useFrameBatch<LogLine>((lines) => {
    if (!loaded) early.current.push(...lines);
    else append(lines);
  });
  useEffect(() => {
    // Lines that arrived while the first page loaded: kept if the page did not have them.
    if (loaded && early.current.length) {
      append(early.current);
      early.current = [];
    }
  }, [loaded, append]);
  const onEvent = useCallback(
    (event: LiveEvent) => {
      const d = event.data as { kind?: string; name?: string | null; attempt?: number; payload?: { message?: unknown } };
      if (d.kind !== "log") return;
      push({
        id: event.seq,
        attempt: d.attempt ?? 0,
        time: event.ts,
        level: d.name ?? "info",
        message: String(d.payload?.message ?? ""),
      });
    },
    [push],
  );
  useTopic(live ? `run:${run.id}` : null, onEvent);

  const loadOlder = useCallback(async () => {
    if (!log || !log.hasEarlier || loadingOlder || !log.rows.length) return;
    setLoadingOlder(true);
    try {
      const page = await fetchPage(run.id, log.rows[0]!.id);
      const older = appendRows([], page.items);
      prepended.current = older.length;
      setLog((state) =>
        state ? { ...state, rows: [...older, ...state.rows], hasEarlier: page.has_earlier ?? false } : state,
      );
    } catch (e) {
      setError(e);
    } finally {
      setLoadingOlder(false);
    }
  }, [log, loadingOlder, run.id]);

  const rows = useMemo(() => log?.rows ?? [], [log]);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 30,
  });

  // Keep the lines in view where they were when older ones are added above them.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && prepended.current) {
      el.scrollTop += prepended.current * ROW_HEIGHT;
      prepended.current = 0;
    }
  }, [rows]);
  // Following: stay at the end as lines arrive.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && follow && !query) el.scrollTop = el.scrollHeight;
  }, [rows, follow, query]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 1.5;
    if (atEnd !== follow) setFollow(atEnd);
    if (el.scrollTop < ROW_HEIGHT * 10) void loadOlder();
  };

  const matches = useMemo(() => findMatches(rows, query), [rows, query]);
  const at = Math.min(current, matches.length - 1);
  const goTo = (index: number) => {
    if (!matches.length) return;
    const next = (index + matches.length) % matches.length;
    setCurrent(next);
    setFollow(false);
    virtualizer.scrollToIndex(matches[next]!, { align: "center" });
  };

  if (error && !log) return <ErrorState error={error} retry={() => void load()} />;
  if (!log) return <LoadingRows rows={8} />;
  if (rows.length === 0) {
    return (
      <EmptyState
        icon={<ScrollText className="size-8" />}
        title="No log lines yet"
        description={live ? "Lines appear here as the trainer writes them." : "This run wrote no log lines."}
      />
    );
  }
  const activeRow = at >= 0 ? matches[at] : -1;
  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center gap-2">
        <Input
          type="search"
          aria-label="Search the log"
          placeholder="Search the log"
          className="h-8 max-w-xs"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setCurrent(-1);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              goTo(e.shiftKey ? Math.max(at, 0) - 1 : at + 1);
            }
          }}
        />
        <Button size="icon-sm" variant="outline" aria-label="Previous match" disabled={!matches.length} onClick={() => goTo(Math.max(at, 0) - 1)}>
          <ChevronUp />
        </Button>
        <Button size="icon-sm" variant="outline" aria-label="Next match" disabled={!matches.length} onClick={() => goTo(at + 1)}>
          <ChevronDown />
        </Button>
        <span className="text-sm text-muted-foreground" aria-live="polite">
          {query
            ? matches.length
              ? at >= 0
                ? `${at + 1} of ${matches.length}`
                : `${matches.length} match${matches.length === 1 ? "" : "es"}`
              : "no match" : `${rows.length.toLocaleString()} lines`}
          {query && log.hasEarlier ? " in the lines loaded" : ""}
        </span>
        {loadingOlder && <Spinner label="Loading older lines" />}
        <div className="ml-auto flex items-center gap-2">
          {live && !follow && (
            <Button
              size="sm"
              onClick={() => {
                setFollow(true);
                setQuery("");
                const el = scrollRef.current;
                if (el) el.scrollTop = el.scrollHeight;
              }}
            >
              <ArrowDownToLine /> Follow
            </Button>
          )}
          {live && follow && <span className="text-xs text-muted-foreground">Following new lines</span>}
        </div>
      </div>
      <div
        ref={scrollRef}
        onScroll={onScroll}
        role="log"
        aria-label="Run log"
        tabIndex={0}
        className="max-h-[62vh] overflow-auto rounded-lg border bg-card font-mono text-xs"
      >
        {!log.hasEarlier && (
          <p className="px-3 py-1 text-muted-foreground">— beginning of the log —</p>
        )}
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth: "100%", width: "max-content" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const row = rows[item.index]!;
            return (
              <div
                key={row.key}
                data-log-row
                className={cn(
                  "absolute left-0 flex w-full gap-3 px-3 whitespace-pre",
                  item.index === activeRow && "bg-accent",
                )}
                style={{ top: item.start, height: ROW_HEIGHT, lineHeight: `${ROW_HEIGHT}px` }}
              >
                <span className="shrink-0 text-muted-foreground select-none">{clock.format(new Date(row.time * 1000))}</span>
                <span className={cn("w-14 shrink-0 select-none", levelClass(row.level))}>{row.level}</span>
                <span>
                  {splitMatches(row.text, query).map(([piece, hit], i) =>
                    hit ? (
                      <mark key={i} className="rounded-sm bg-yellow-200 text-black dark:bg-yellow-500/80">
                        {piece}
                      </mark>
                    ) : (
                      piece
                    ),
                  )}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
