// Which chart goes where on the Overview: metrics grouped by their split/prefix.

export interface MetricGroup {
  key: string;
  title: string;
  /** metric names, charts in this order */
  names: string[];
}

const ORDER = ["train", "val", "test", "system"];
const TITLES: Record<string, string> = {
  train: "Training",
  val: "Validation",
  test: "Test",
  system: "System",
};
/** Charts first in their group: the ones people look at first. */
const FIRST = ["train/step_loss", "train/loss", "val/loss", "test/loss", "train/lr"];

function rank(name: string): number {
  const i = FIRST.indexOf(name);
  return i === -1 ? FIRST.length : i;
}

/** "val/acc@1" -> group "val"; "val/per_class/cat/f1" -> group "val/per_class" (per-class
 *  metrics get a group of their own under their split); anything else by its first part. */
export function groupMetrics(names: string[]): MetricGroup[] {
  const groups = new Map<string, string[]>();
  for (const name of names) {
    const parts = name.split("/");
    const key = parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.length === 2 ? parts[0]! : "other";
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  const sortKey = (key: string) => {
    const split = key.split("/")[0]!;
    const i = ORDER.indexOf(split);
    return [i === -1 ? ORDER.length : i, key] as const;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => {
      const [ia, ka] = sortKey(a);
      const [ib, kb] = sortKey(b);
      return ia - ib || ka.localeCompare(kb);
    })
    .map(([key, members]) => {
      const [split, sub] = key.split("/");
      const base = TITLES[split!] ?? split!;
      return {
        key,
        title: sub ? `${base}: ${sub.replaceAll("_", " ")}` : base,
        names: [...members].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
      };
    });
}

/** System samples are stepped by unix time: their natural x axis is time. */
export function isTimeStepped(name: string): boolean {
  return name.startsWith("system/");
}
