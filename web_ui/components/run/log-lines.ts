// Log lines as the viewer shows them: carriage-return progress output collapsed into its last
// state, and search matches.
import type { Schemas } from "@/lib/api/client";

export type LogLine = Schemas["LogLine"];

export interface LogRow {
  /** unique per row: a line of several rows (a message with newlines) numbers them */
  key: string;
  id: number;
  attempt: number;
  time: number;
  level: string;
  text: string;
  /** written by a message that began with "\r": a redraw the next one may overwrite */
  redraw: boolean;
}

/** What a terminal would show for text written with carriage returns: the last state of each
 *  line ("10%\r20%\r30%" -> "30%"). */
export function lastState(message: string): string {
  if (!message.includes("\r")) return message;
  return message
    .split("\n")
    .map((line) => {
      const parts = line.split("\r").filter((p) => p.length > 0);
      return parts[parts.length - 1] ?? "";
    })
    .join("\n")
    .trimEnd();
}

/** The trainer's own logging prefix ("16:49:39 INFO "): the viewer shows the line's time and
 *  level in their own columns already, so the prefix would show them twice. */
const TRAINER_PREFIX = /^\d{2}:\d{2}:\d{2}(?:[.,]\d+)? (?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) /;

export function withoutTrainerPrefix(text: string): string {
  return text.replace(TRAINER_PREFIX, "");
}

/** Append lines to rows, one row per line of text: a message that starts with "\r" overwrites
 *  the row before it when that row was itself such a redraw (a progress bar redrawn in place,
 *  one event per redraw), as it did in the terminal; the first redraw, and any ordinary line
 *  (a warning printed between two bars), keep their rows. */
export function appendRows(rows: LogRow[], lines: LogLine[]): LogRow[] {
  const out = rows.slice();
  for (const line of lines) {
    const texts = lastState(line.message).split("\n");
    const redraw = line.message.startsWith("\r");
    if (redraw && out.length > 0 && out[out.length - 1]!.redraw) out.pop();
    texts.forEach((text, k) =>
      out.push({
        key: k === 0 ? String(line.id) : `${line.id}.${k}`,
        id: line.id,
        attempt: line.attempt,
        time: line.time,
        level: line.level,
        text: withoutTrainerPrefix(text),
        redraw: redraw && k === texts.length - 1,
      }),
    );
  }
  return out;
}

/** Indices of the rows containing `query` (case-insensitive). */
export function findMatches(rows: LogRow[], query: string): number[] {
  if (!query) return [];
  const q = query.toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) if (rows[i]!.text.toLowerCase().includes(q)) out.push(i);
  return out;
}

/** `text` cut around the matches of `query`: [piece, isMatch] pairs. */
export function splitMatches(text: string, query: string): [string, boolean][] {
  if (!query) return [[text, false]];
  const lower = text.toLowerCase();
  const q = query.toLowerCase();
  const out: [string, boolean][] = [];
  let at = 0;
  for (;;) {
    const i = lower.indexOf(q, at);
    if (i === -1) break;
    if (i > at) out.push([text.slice(at, i), false]);
    out.push([text.slice(i, i + q.length), true]);
    at = i + q.length;
  }
  if (at < text.length) out.push([text.slice(at), false]);
  return out;
}
