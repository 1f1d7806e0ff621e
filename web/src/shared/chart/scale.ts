// Pure helpers behind LineChart: linear scales, "nice" axis ticks, data extents.

export type Point = readonly [t: number, v: number];

export interface Extent {
  min: number;
  max: number;
}

/** Maps [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle of the range. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0;
  if (span === 0 || !Number.isFinite(span)) {
    const mid = (r0 + r1) / 2;
    return () => mid;
  }
  const k = (r1 - r0) / span;
  return (v) => r0 + (v - d0) * k;
}

/** Min and max over every point's value (index 1), or null when there are no finite values. */
export function valueExtent(series: readonly (readonly Point[])[]): Extent | null {
  let min = Infinity;
  let max = -Infinity;
  for (const points of series) {
    for (const [, v] of points) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? { min, max } : null;
}

/** Min and max time (index 0) over every point, or null when empty. */
export function timeExtent(series: readonly (readonly Point[])[]): Extent | null {
  let min = Infinity;
  let max = -Infinity;
  for (const points of series) {
    for (const [t] of points) {
      if (t < min) min = t;
      if (t > max) max = t;
    }
  }
  return min <= max ? { min, max } : null;
}

/** A step of 1, 2, 2.5 or 5 times a power of ten close to span / count. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / pow;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * pow;
}

/** A "nice" power-of-two step for byte axes (1 KiB, 2 KiB, 4 KiB, ... or 1, 2, 5 ...x below 1 KiB). */
export function niceByteStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  if (raw < 1024) return niceStep(span, count);
  return Math.pow(2, Math.ceil(Math.log2(raw)));
}

export interface Ticks {
  min: number;
  max: number;
  ticks: number[];
}

/**
 * Widens [min, max] to whole steps and lists the tick values. `floor`/`ceil` pin the domain
 * (0 for usage, 100 for percent); a flat series gets a domain around its value.
 */
export function niceTicks(
  extent: Extent | null,
  opts: { count?: number; floor?: number; ceil?: number; bytes?: boolean } = {},
): Ticks {
  const count = opts.count ?? 4;
  let min = extent?.min ?? 0;
  let max = extent?.max ?? 1;
  if (opts.floor !== undefined) min = Math.min(min, opts.floor);
  if (opts.ceil !== undefined) max = Math.max(max, opts.ceil);
  if (min === max) {
    if (min === 0) max = opts.bytes ? 1024 : 1; // whole bytes: a 0..1 B axis would print repeated labels
    else if (min > 0) min = opts.floor !== undefined ? Math.min(opts.floor, 0) : 0;
    else max = 0;
  }
  const step = (opts.bytes ? niceByteStep : niceStep)(max - min, count);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let i = 0, v = lo; v <= hi + step / 2 && i < 100; i++, v = lo + i * step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return { min: lo, max: hi, ticks };
}

/** Time ticks on whole minutes/hours across [t0, t1], about `count` of them. */
export function timeTicks(t0: number, t1: number, count = 5): number[] {
  const span = t1 - t0;
  if (!(span > 0)) return [t0];
  const steps = [
    15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
    10_800_000, 21_600_000, 43_200_000, 86_400_000,
  ];
  const step = steps.find((s) => span / s <= count) ?? 86_400_000;
  // Align to the local clock (minutes/hours) so labels read 14:00, 14:15 ...
  const offset = new Date(t0).getTimezoneOffset() * 60_000;
  const first = Math.ceil((t0 - offset) / step) * step + offset;
  const out: number[] = [];
  for (let t = first; t <= t1; t += step) out.push(t);
  return out;
}

/** SVG path "M x,y L x,y ..." for points, starting a new segment across gaps longer than `maxGapMs`. */
export function linePath(
  points: readonly Point[],
  x: (t: number) => number,
  y: (v: number) => number,
  maxGapMs = Infinity,
): string {
  let d = '';
  let prevT: number | null = null;
  for (const [t, v] of points) {
    if (!Number.isFinite(v)) {
      prevT = null;
      continue;
    }
    const cmd = prevT === null || t - prevT > maxGapMs ? 'M' : 'L';
    d += `${d ? ' ' : ''}${cmd}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    prevT = t;
  }
  return d;
}
