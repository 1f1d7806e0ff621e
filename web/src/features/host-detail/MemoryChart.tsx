import { Card } from '../../shared/components/Card';
import { LineChart } from '../../shared/components/LineChart';
import type { ChartSeries } from '../../shared/chart/series';
import { formatBytes, formatInteger } from '../../shared/format/units';
import { MetricError } from './MetricError';
import { gapForStep, toPoints } from './metricSeries';
import type { TimeRange } from './ranges';
import { useMetric } from './useMetric';

interface MemoryChartProps {
  agentId: string;
  range: TimeRange;
}

/** mem.used_bytes against mem.total_bytes, and the current total as exact text. */
export function MemoryChart({ agentId, range }: MemoryChartProps) {
  const used = useMetric(agentId, 'mem.used_bytes', '', range);
  const total = useMetric(agentId, 'mem.total_bytes', '', range);
  // Totals do not vary inside a bucket: the bucket's max is an exact sample.
  const totalPoints = toPoints(total.data?.series[0]?.points ?? [], 'max');
  const series: ChartSeries[] = [
    { key: 'used', label: 'Used', points: toPoints(used.data?.series[0]?.points ?? []) },
    { key: 'total', label: 'Total', points: totalPoints },
  ];
  const lastTotal = totalPoints.at(-1)?.[1];
  const totalInt = lastTotal === undefined ? undefined : Math.round(lastTotal);
  const data = used.data ?? total.data;
  return (
    <Card
      title="Memory"
      aside={
        <span
          className="stat"
          data-testid="mem-total-bytes"
          data-value={totalInt === undefined ? '' : String(totalInt)}
          title={totalInt === undefined ? undefined : `${formatInteger(totalInt)} bytes`}
        >
          {totalInt === undefined ? 'total –' : `${formatBytes(totalInt, 2)} total`}
        </span>
      }
    >
      <LineChart
        testId="chart-mem"
        label="Memory used and total"
        series={series}
        from={data?.fromMs ?? Date.now() - range.ms}
        to={data?.toMs ?? Date.now()}
        formatValue={(v) => formatBytes(v)}
        yFloor={0}
        bytes
        maxGapMs={gapForStep(data?.step_s)}
      />
      <MetricError error={used.error ?? total.error} />
    </Card>
  );
}
