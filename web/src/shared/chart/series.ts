import type { Point } from './scale';

/** One line of a chart. */
export interface ChartSeries {
  /** Stable identity (a dim, "used", "eth0"). */
  key: string;
  label: string;
  points: readonly Point[];
}

/** Number of points over all series (what a chart's data-points attribute reports). */
export function pointCount(series: readonly ChartSeries[]): number {
  return series.reduce((n, s) => n + s.points.length, 0);
}

/** The newest finite value of a series, or undefined. */
export function lastValue(points: readonly Point[]): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = points[i]?.[1];
    if (v !== undefined && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** The value of the point nearest to time `t` (binary search over time-ordered points). */
export function valueAt(points: readonly Point[], t: number): Point | undefined {
  if (points.length === 0) return undefined;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((points[mid]?.[0] ?? 0) <= t) lo = mid;
    else hi = mid;
  }
  const a = points[lo];
  const b = points[hi];
  if (!a || !b) return a ?? b;
  return Math.abs(a[0] - t) <= Math.abs(b[0] - t) ? a : b;
}
