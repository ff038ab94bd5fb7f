// The filter box: people type "val/acc@1 >= 0.8, lr < 0.01"; the API takes
// `filter=best:val/acc@1>=0.8&filter=param:lr<0.01`. The API stays the judge of what is valid
// (its 422 message is shown under the box); this only bridges the spelling.
import type { RunKeys } from "./run-query";

/** Keys the API knows without a prefix. */
const PLAIN_KEYS = new Set(["created_at", "priority", "name", "duration", "epochs_done", "best", "last"]);
const EXPRESSION = /^(.+?)\s*(>=|<=|!=|=|>|<)\s*(.*)$/s;

/** Split the box's text into expressions: commas, "and" or "&&" separate them. */
export function splitExpressions(text: string): string[] {
  return text
    .split(/,|&&|\s+and\s+/i)
    .map((part) => part.trim())
    .filter(Boolean);
}

/** One expression in the API's spelling: no spaces around the operator; a bare metric name
 *  becomes `best:<metric>` (or `last:` when which way is better is unknown); a bare config
 *  field becomes `param:<field>`. Anything else is passed on as written. */
export function toApiFilter(expression: string, keys: RunKeys | undefined): string {
  const match = EXPRESSION.exec(expression.trim());
  if (!match) return expression.trim();
  const [, rawKey, op, value] = match as unknown as [string, string, string, string];
  const key = rawKey.trim();
  return `${apiKey(key, keys)}${op}${value.trim()}`;
}

export function apiKey(key: string, keys: RunKeys | undefined): string {
  if (key.includes(":") || PLAIN_KEYS.has(key)) return key;
  const metric = keys?.metrics.find((m) => m.name === key);
  if (metric) return `${metric.direction ? "best" : "last"}:${key}`;
  if (keys?.params.some((p) => p.name === key)) return `param:${key}`;
  if (key.includes("/")) return `best:${key}`;
  return key;
}

export function toApiFilters(text: string | null, keys: RunKeys | undefined): string[] {
  return text ? splitExpressions(text).map((e) => toApiFilter(e, keys)) : [];
}

/** The API's message for a 422 on `filter`/`sort`, without pydantic's "Value error, ". */
export function cleanValidationMessage(message: string): string {
  return message.replace(/^Value error, /, "");
}

/** `state=`, `tag=`, `group=` and `q=` in the box set the table's own filters (they are not
 *  run keys): what is left goes to the API as filter expressions. */
export interface ViewFilters {
  state?: string;
  tag?: string;
  group?: string;
  q?: string;
  rest: string[];
}

export function viewFilters(text: string): ViewFilters {
  const found: ViewFilters = { rest: [] };
  for (const expression of splitExpressions(text)) {
    const match = /^(state|tag|group|q)\s*=\s*(.+)$/i.exec(expression);
    if (match) found[match[1]!.toLowerCase() as "state" | "tag" | "group" | "q"] = match[2]!.trim();
    else found.rest.push(expression);
  }
  return found;
}
