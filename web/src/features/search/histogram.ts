// Geometry of the event-count histogram: one bar per bucket on a time axis, integer count ticks.

import type { QueryHistogram } from '../../api/generated/model';
import { linearScale, niceTicks } from '../../shared/chart/scale';

export interface HistogramBar {
  /** Bucket start in Unix ms. */
  t: number;
  count: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface HistogramGeometry {
  bars: HistogramBar[];
  yTicks: { value: number; y: number }[];
  xTicks: { t: number; x: number }[];
  from: number;
  to: number;
  total: number;
  max: number;
}

export interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function histogramGeometry(h: QueryHistogram, width: number, height: number, box: Box): HistogramGeometry {
  const bucketMs = Math.max(1, h.bucket_s) * 1000;
  const buckets = h.buckets
    .map((b) => ({ t: Date.parse(b.time), count: b.count }))
    .filter((b) => Number.isFinite(b.t))
    .sort((a, b) => a.t - b.t);
  const total = buckets.reduce((n, b) => n + b.count, 0);
  const max = buckets.reduce((m, b) => Math.max(m, b.count), 0);
  const from = buckets[0]?.t ?? 0;
  const to = (buckets[buckets.length - 1]?.t ?? 0) + bucketMs;
  const plotL = box.left;
  const plotR = Math.max(plotL + 10, width - box.right);
  const plotT = box.top;
  const plotB = Math.max(plotT + 10, height - box.bottom);
  const sx = linearScale(from, to, plotL, plotR);
  const ticks = niceTicks({ min: 0, max: Math.max(1, max) }, { floor: 0, count: 3 });
  const sy = linearScale(0, ticks.max, plotB, plotT);
  const slot = Math.max(1, sx(from + bucketMs) - sx(from));
  const gap = slot > 4 ? 1 : 0;
  const bars = buckets.map((b) => {
    const y = sy(b.count);
    return { t: b.t, count: b.count, x: sx(b.t) + gap / 2, y, width: Math.max(1, slot - gap), height: plotB - y };
  });
  const yTicks = ticks.ticks.filter(Number.isInteger).map((value) => ({ value, y: sy(value) }));
  const xCount = Math.max(2, Math.min(6, Math.floor((plotR - plotL) / 140)));
  const xTicks: { t: number; x: number }[] = [];
  if (buckets.length > 0) {
    for (let i = 0; i <= xCount; i++) {
      const t = from + ((to - from) * i) / xCount;
      xTicks.push({ t, x: sx(t) });
    }
  }
  return { bars, yTicks, xTicks, from, to, total, max };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Axis label in local time, as precise as the span needs: "2024-05-07", "05-07 18:54", "18:54:20". */
export function histogramLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (spanMs > 7 * 86_400_000) return date;
  if (spanMs > 86_400_000) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}`;
  if (spanMs > 30 * 60_000) return hm;
  return `${hm}:${pad2(d.getSeconds())}`;
}
