import type { MetricSeriesSet } from '../../api/generated/model';
import type { Point } from '../../shared/chart/scale';
import type { ChartSeries } from '../../shared/chart/series';

/** Which of a bucket's values to plot: [t, avg, min, max]. */
export type Aggregate = 'avg' | 'min' | 'max';

const AGG_INDEX: Record<Aggregate, 1 | 2 | 3> = { avg: 1, min: 2, max: 3 };

/** The API's [t_ms, avg, min, max] points as [t, value], skipping malformed rows. */
export function toPoints(raw: readonly (readonly number[])[], agg: Aggregate = 'avg'): Point[] {
  const i = AGG_INDEX[agg];
  const out: Point[] = [];
  for (const row of raw) {
    const t = row[0];
    const v = row[i];
    if (t === undefined || v === undefined || !Number.isFinite(t) || !Number.isFinite(v)) continue;
    out.push([t, v]);
  }
  return out;
}

/** One chart series per dim of a metric answer; `label` names each dim. */
export function seriesByDim(
  set: MetricSeriesSet | undefined,
  label: (dim: string) => string = (dim) => dim || 'value',
  agg: Aggregate = 'avg',
): ChartSeries[] {
  if (!set) return [];
  return set.series.map((s) => ({ key: s.dim, label: label(s.dim), points: toPoints(s.points, agg) }));
}

/** The average of a series' values (used to rank interfaces by traffic). */
export function meanValue(points: readonly Point[]): number {
  if (points.length === 0) return 0;
  return points.reduce((sum, [, v]) => sum + v, 0) / points.length;
}

/** A gap that breaks a line: three buckets, and never less than a minute (agents sample every few seconds). */
export function gapForStep(stepS: number | undefined): number {
  return Math.max(60_000, (stepS ?? 0) * 3_000);
}
