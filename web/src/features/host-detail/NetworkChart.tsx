import { Card } from '../../shared/components/Card';
import { LineChart } from '../../shared/components/LineChart';
import type { ChartSeries } from '../../shared/chart/series';
import { formatBytesPerSecond } from '../../shared/format/units';
import { MetricError } from './MetricError';
import { gapForStep, meanValue, seriesByDim } from './metricSeries';
import type { TimeRange } from './ranges';
import { useMetric } from './useMetric';

interface NetworkChartProps {
  agentId: string;
  range: TimeRange;
  direction: 'rx' | 'tx';
}

/** Most interfaces a chart draws (the busiest ones). */
export const MAX_INTERFACES = 6;

/**
 * The busiest interfaces first, at most MAX_INTERFACES; the loopback only when it is all there is
 * or when it carries traffic of its own.
 */
export function pickInterfaces(series: readonly ChartSeries[]): ChartSeries[] {
  const ranked = [...series].sort((a, b) => meanValue(b.points) - meanValue(a.points));
  const others = ranked.filter((s) => s.key !== 'lo');
  const pick = others.length > 0 ? others : ranked;
  return pick.slice(0, MAX_INTERFACES);
}

/** net.<rx|tx>_bytes_per_s, one line per interface. */
export function NetworkChart({ agentId, range, direction }: NetworkChartProps) {
  const name = direction === 'rx' ? 'net.rx_bytes_per_s' : 'net.tx_bytes_per_s';
  const { data, error } = useMetric(agentId, name, undefined, range);
  const series = pickInterfaces(seriesByDim(data));
  const title = direction === 'rx' ? 'Network received' : 'Network sent';
  return (
    <Card title={title}>
      <LineChart
        testId={`chart-net-${direction}`}
        label={`${title} per interface`}
        series={series}
        from={data?.fromMs ?? Date.now() - range.ms}
        to={data?.toMs ?? Date.now()}
        formatValue={(v) => formatBytesPerSecond(v)}
        yFloor={0}
        bytes
        maxGapMs={gapForStep(data?.step_s)}
      />
      <MetricError error={error} />
    </Card>
  );
}
