import { Card } from '../../shared/components/Card';
import { LineChart } from '../../shared/components/LineChart';
import type { ChartSeries } from '../../shared/chart/series';
import { formatNumber } from '../../shared/format/units';
import { MetricError } from './MetricError';
import { gapForStep, toPoints } from './metricSeries';
import type { TimeRange } from './ranges';
import { useMetric } from './useMetric';

interface LoadChartProps {
  agentId: string;
  range: TimeRange;
}

/** load.1, load.5 and load.15. */
export function LoadChart({ agentId, range }: LoadChartProps) {
  const l1 = useMetric(agentId, 'load.1', '', range);
  const l5 = useMetric(agentId, 'load.5', '', range);
  const l15 = useMetric(agentId, 'load.15', '', range);
  const series: ChartSeries[] = [
    { key: '1', label: '1 min', points: toPoints(l1.data?.series[0]?.points ?? []) },
    { key: '5', label: '5 min', points: toPoints(l5.data?.series[0]?.points ?? []) },
    { key: '15', label: '15 min', points: toPoints(l15.data?.series[0]?.points ?? []) },
  ];
  const data = l1.data ?? l5.data ?? l15.data;
  return (
    <Card title="Load average">
      <LineChart
        testId="chart-load"
        label="Load average"
        series={series}
        from={data?.fromMs ?? Date.now() - range.ms}
        to={data?.toMs ?? Date.now()}
        formatValue={(v) => formatNumber(v)}
        yFloor={0}
        maxGapMs={gapForStep(data?.step_s)}
      />
      <MetricError error={l1.error ?? l5.error ?? l15.error} />
    </Card>
  );
}
