import { useId, useMemo, useState, type PointerEvent } from 'react';
import { linePath, linearScale, niceTicks, timeTicks, valueExtent } from '../chart/scale';
import { lastValue, pointCount, valueAt, type ChartSeries } from '../chart/series';
import { formatClock, formatDateTime } from '../format/time';
import { useElementWidth } from '../hooks/useElementWidth';

interface LineChartProps {
  /** data-testid of the chart; the element also carries data-points, data-last and data-series. */
  testId: string;
  /** What the chart shows, for screen readers ("CPU usage"). */
  label: string;
  series: readonly ChartSeries[];
  /** Time domain in Unix ms (the selected range). */
  from: number;
  to: number;
  formatValue: (v: number) => string;
  /** Always include these values in the y domain (0 for usage, 100 for percent). */
  yFloor?: number;
  yCeil?: number;
  /** Byte values: ticks on powers of two. */
  bytes?: boolean;
  /** A gap between two points longer than this breaks the line. */
  maxGapMs?: number;
  height?: number;
}

const MARGIN = { top: 10, right: 12, bottom: 24, left: 64 };
const MAX_COLORS = 8;

/**
 * A dependency-free SVG line chart. Colours come from CSS classes (series-0 …), positions from SVG
 * attributes, so it needs no inline styles under the core's CSP. The outer element reports what it
 * plots for tests: data-points (all points of all series), data-last (newest value of the first
 * series) and data-series (number of series).
 */
export function LineChart({
  testId,
  label,
  series,
  from,
  to,
  formatValue,
  yFloor,
  yCeil,
  bytes,
  maxGapMs,
  height = 180,
}: LineChartProps) {
  const [boxRef, width] = useElementWidth<HTMLDivElement>(560);
  const [hoverT, setHoverT] = useState<number | null>(null);
  const titleId = useId();

  const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
  const plotH = Math.max(10, height - MARGIN.top - MARGIN.bottom);

  const geometry = useMemo(() => {
    const y = niceTicks(valueExtent(series.map((s) => s.points)), { floor: yFloor, ceil: yCeil, bytes });
    const sx = linearScale(from, to, MARGIN.left, MARGIN.left + plotW);
    const sy = linearScale(y.min, y.max, MARGIN.top + plotH, MARGIN.top);
    const paths = series.map((s) => linePath(s.points, sx, sy, maxGapMs));
    return { y, sx, sy, paths, xTicks: timeTicks(from, to, Math.max(2, Math.floor(plotW / 90))) };
  }, [series, from, to, plotW, plotH, yFloor, yCeil, bytes, maxGapMs]);

  const points = pointCount(series);
  const first = series[0];
  const last = first ? lastValue(first.points) : undefined;
  const withSeconds = to - from <= 30 * 60_000;

  const onPointerMove = (e: PointerEvent<SVGSVGElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * width;
    if (x < MARGIN.left || x > MARGIN.left + plotW) return setHoverT(null);
    setHoverT(from + ((x - MARGIN.left) / plotW) * (to - from));
  };

  const readout = series.map((s) => {
    const p = hoverT === null ? undefined : valueAt(s.points, hoverT);
    const v = hoverT === null ? lastValue(s.points) : p?.[1];
    return { key: s.key, label: s.label, value: v };
  });
  const hoverPoint = hoverT !== null && first ? valueAt(first.points, hoverT) : undefined;
  const summary =
    points === 0
      ? `${label}: no data in this range`
      : `${label}: ${readout.map((r) => `${r.label} ${r.value === undefined ? 'no data' : formatValue(r.value)}`).join(', ')}`;

  return (
    <div
      className="chart"
      data-testid={testId}
      data-points={points}
      data-last={last === undefined ? '' : String(last)}
      data-series={series.length}
      ref={boxRef}
    >
      <svg
        className="chart-svg"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={titleId}
        onPointerMove={onPointerMove}
        onPointerLeave={() => setHoverT(null)}
      >
        <title id={titleId}>{summary}</title>
        <g className="chart-grid">
          {geometry.y.ticks.map((v) => (
            <g key={`y${v}`}>
              <line x1={MARGIN.left} x2={MARGIN.left + plotW} y1={geometry.sy(v)} y2={geometry.sy(v)} />
              <text className="chart-tick" x={MARGIN.left - 6} y={geometry.sy(v)} textAnchor="end" dominantBaseline="middle">
                {formatValue(v)}
              </text>
            </g>
          ))}
          {geometry.xTicks.map((t) => (
            <text
              key={`x${t}`}
              className="chart-tick"
              x={geometry.sx(t)}
              y={MARGIN.top + plotH + 16}
              textAnchor="middle"
            >
              {formatClock(t, withSeconds && to - from <= 5 * 60_000)}
            </text>
          ))}
        </g>
        {geometry.paths.map((d, i) =>
          d ? <path key={series[i]?.key ?? i} className={`chart-line series-${i % MAX_COLORS}`} d={d} /> : null,
        )}
        {hoverT !== null && (
          <line
            className="chart-cursor"
            x1={geometry.sx(hoverPoint?.[0] ?? hoverT)}
            x2={geometry.sx(hoverPoint?.[0] ?? hoverT)}
            y1={MARGIN.top}
            y2={MARGIN.top + plotH}
          />
        )}
        {points === 0 && (
          <text className="chart-empty" x={MARGIN.left + plotW / 2} y={MARGIN.top + plotH / 2} textAnchor="middle">
            No data in this range
          </text>
        )}
      </svg>
      <ul className="chart-legend" aria-hidden="true">
        {readout.map((r, i) => (
          <li key={r.key}>
            <svg className="chart-swatch" width="14" height="8" viewBox="0 0 14 8">
              <line className={`series-${i % MAX_COLORS}`} x1="0" x2="14" y1="4" y2="4" />
            </svg>
            <span className="chart-legend-label">{r.label}</span>
            <span className="chart-legend-value">{r.value === undefined ? '–' : formatValue(r.value)}</span>
          </li>
        ))}
        {hoverPoint && <li className="chart-legend-time">{formatDateTime(hoverPoint[0])}</li>}
      </ul>
    </div>
  );
}
