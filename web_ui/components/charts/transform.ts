// Pure data shaping for the line chart: smoothing, log-safe values, outlier-robust y ranges,
// and the alignment of many series onto one shared x array (what uPlot draws).

/** A y column: null marks a gap (drawn as a break), undefined a missing point (the line goes
 *  straight across it). */
export type Column = (number | null | undefined)[];

/** Debiased exponential moving average (as TensorBoard's smoothing slider): gaps and missing
 *  points stay so and do not reset the average. weight 0 returns the input. */
export function ema(y: Column, weight: number): Column {
  if (weight <= 0) return y;
  const out: Column = new Array(y.length);
  let last = 0;
  let debias = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v == null || !Number.isFinite(v)) {
      out[i] = v === undefined ? undefined : null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out[i] = last / debias;
  }
  return out;
}

/** Log axes cannot show values <= 0: they become missing points (the line passes over them,
 *  as it would over a value far below the axis), while real gaps stay gaps. */
export function positiveOnly(y: Column): Column {
  return y.map((v) => (v == null || v > 0 ? v : undefined));
}

/** The [lo, hi] quantiles of the finite values of ys[from..to), estimated from at most
 *  `sample` evenly spaced values (cheap on 100k points). null if no finite value. */
export function quantileRange(
  ys: ArrayLike<number | null | undefined>,
  from: number,
  to: number,
  lo = 0.01,
  hi = 0.99,
  sample = 4000,
): [number, number] | null {
  const stride = Math.max(1, Math.floor((to - from) / sample));
  const values: number[] = [];
  for (let i = from; i < to; i += stride) {
    const v = ys[i];
    if (v != null && Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))]!;
  return [at(lo), at(hi)];
}

/** The y range with outliers clipped: the union of each series' own 1st-99th percentile
 *  range, so every series keeps (nearly) all of its points in view, whatever its scale.
 *  Unpadded: the caller pads for its scale (linear or log). */
export function clippedRange(
  columns: ArrayLike<number | null | undefined>[],
  from: number,
  to: number,
): [number, number] | null {
  let min = Infinity;
  let max = -Infinity;
  for (const ys of columns) {
    const r = quantileRange(ys, from, to);
    if (!r) continue;
    min = Math.min(min, r[0]);
    max = Math.max(max, r[1]);
  }
  return Number.isFinite(min) ? [min, max] : null;
}

/** First index with xs[i] >= x (xs ascending). */
export function lowerBound(xs: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Many (x, y) series on one ascending x array. A series has `undefined` where another series
 *  has a point and it has none (drawn as a straight line across), and keeps its own nulls
 *  (drawn as gaps). One series is passed through without copying. */
export function alignSeries(series: { x: number[]; y: Column }[]): [number[], ...Column[]] {
  if (series.length === 0) return [[]];
  if (series.length === 1) return [series[0]!.x, series[0]!.y];
  const all = new Set<number>();
  for (const s of series) for (const x of s.x) all.add(x);
  const xs = Float64Array.from(all).sort();
  const xsArr = Array.from(xs);
  const columns = series.map((s) => {
    const col: Column = new Array(xsArr.length);
    let j = 0;
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i]!;
      while (xsArr[j]! < x) j++;
      col[j] = s.y[i];
    }
    return col;
  });
  return [xsArr, ...columns];
}

/** The value of a column at idx, or the nearest point's within `reach` indices either side
 *  (aligned columns have holes where other series have points). */
export function valueNear(
  column: ArrayLike<number | null | undefined>,
  idx: number,
  reach = 2000,
): number | null {
  const at = column[idx];
  if (at !== undefined) return at;
  for (let d = 1; d <= reach; d++) {
    const left = column[idx - d];
    if (left !== undefined && idx - d >= 0) return left;
    const right = column[idx + d];
    if (right !== undefined && idx + d < column.length) return right;
  }
  return null;
}
