import { useId, useMemo } from 'react';
import type { QueryHistogram } from '../../api/generated/model';
import { formatDateTime } from '../../shared/format/time';
import { useElementWidth } from '../../shared/hooks/useElementWidth';
import { histogramGeometry, histogramLabel } from './histogram';

interface EventHistogramProps {
  histogram: QueryHistogram;
  height?: number;
}

const BOX = { left: 48, right: 12, top: 8, bottom: 22 };

/**
 * Matching events over time as SVG bars (geometry in attributes, colours in CSS, so no inline
 * styles). Each bar's tooltip gives its bucket and count; data-total and data-buckets report what
 * is plotted.
 */
export function EventHistogram({ histogram, height = 120 }: EventHistogramProps) {
  const [boxRef, width] = useElementWidth<HTMLDivElement>(800);
  const titleId = useId();
  const g = useMemo(() => histogramGeometry(histogram, width, height, BOX), [histogram, width, height]);
  const span = g.to - g.from;
  const bucketMs = histogram.bucket_s * 1000;
  const count = (n: number) => n.toLocaleString('en-US');
  const summary =
    g.bars.length === 0
      ? 'Matching events over time: none'
      : `Matching events over time: ${count(g.total)} from ${formatDateTime(g.from)} to ${formatDateTime(g.to)}, ` +
        `at most ${count(g.max)} per bucket`;

  return (
    <div
      className="histogram"
      ref={boxRef}
      data-testid="search-histogram"
      data-total={g.total}
      data-buckets={g.bars.length}
    >
      <svg
        className="chart-svg"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={titleId}
      >
        <title id={titleId}>{summary}</title>
        <g className="chart-grid">
          {g.yTicks.map((t) => (
            <g key={`y${t.value}`}>
              <line x1={BOX.left} x2={width - BOX.right} y1={t.y} y2={t.y} />
              <text className="chart-tick" x={BOX.left - 6} y={t.y} textAnchor="end" dominantBaseline="middle">
                {count(t.value)}
              </text>
            </g>
          ))}
          {g.xTicks.map((t, i) => (
            <text
              key={`x${t.t}`}
              className="chart-tick"
              x={t.x}
              y={height - 6}
              textAnchor={i === 0 ? 'start' : i === g.xTicks.length - 1 ? 'end' : 'middle'}
            >
              {histogramLabel(t.t, span)}
            </text>
          ))}
        </g>
        {g.bars.map((b) => (
          <rect key={b.t} className="histogram-bar" x={b.x} y={b.y} width={b.width} height={b.height}>
            <title>{`${formatDateTime(b.t)} – ${formatDateTime(b.t + bucketMs)}: ${count(b.count)}`}</title>
          </rect>
        ))}
        {g.bars.length === 0 && (
          <text className="chart-empty" x={width / 2} y={height / 2} textAnchor="middle">
            No matching events
          </text>
        )}
      </svg>
    </div>
  );
}
