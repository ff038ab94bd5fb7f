"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import type { Schemas } from "@/lib/api/client";

type Analysis = Schemas["DatasetAnalysis"];

/** classes drawn per split before "Show all" (a 1,000-class dataset stays readable) */
const FIRST_CLASSES = 25;

/** Images per class of one split as a table of horizontal bars: the class and its count are
 *  text (read by screen readers and kept in copy-paste), the bar is decoration. Bars share the
 *  split's largest class as their full width, so an imbalance shows at a glance. */
function SplitCounts({ split, classes, counts }: { split: string; classes: string[]; counts: Record<string, number> }) {
  const total = classes.reduce((sum, c) => sum + (counts[c] ?? 0), 0);
  const largest = Math.max(1, ...classes.map((c) => counts[c] ?? 0));
  const smallest = Math.min(...classes.map((c) => counts[c] ?? 0));
  const [all, setAll] = useState(classes.length <= FIRST_CLASSES);
  const shown = all ? classes : classes.slice(0, FIRST_CLASSES);
  return (
    <Card>
      <CardHeader>
        <CardTitle>{split}</CardTitle>
        <CardDescription>
          {total.toLocaleString()} images
          {classes.length > 1 && ` · ${smallest.toLocaleString()}–${largest.toLocaleString()} per class`}
        </CardDescription>
      </CardHeader>
      <CardContent>
        <table className="w-full border-separate border-spacing-y-1 text-sm">
          <caption className="sr-only">Images per class in {split}</caption>
          <thead className="sr-only">
            <tr>
              <th scope="col">Class</th>
              <th scope="col">Share</th>
              <th scope="col">Images</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((name) => {
              const count = counts[name] ?? 0;
              return (
                <tr key={name}>
                  <th scope="row" className="max-w-32 truncate pr-3 text-left font-normal" title={name}>
                    {name}
                  </th>
                  <td className="w-full">
                    <div className="h-3 rounded-sm bg-muted" aria-hidden>
                      <div
                        className={count ? "h-full rounded-sm bg-primary/80" : "h-full"}
                        style={{ width: `${(100 * count) / largest}%` }}
                      />
                    </div>
                  </td>
                  <td className="pl-3 text-right tabular-nums text-muted-foreground">{count.toLocaleString()}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!all && (
          <Button variant="link" size="sm" className="px-0" onClick={() => setAll(true)}>
            Show all {classes.length.toLocaleString()} classes
          </Button>
        )}
      </CardContent>
    </Card>
  );
}

/** One bar chart per split, in train/val/test order. */
export function ClassCounts({ analysis }: { analysis: Analysis }) {
  const splits = ["train", "val", "test"].filter((s) => s in analysis.counts);
  return (
    <div className="grid gap-4 lg:grid-cols-2 xl:grid-cols-3">
      {splits.map((split) => (
        <SplitCounts key={split} split={split} classes={analysis.classes} counts={analysis.counts[split] ?? {}} />
      ))}
    </div>
  );
}
