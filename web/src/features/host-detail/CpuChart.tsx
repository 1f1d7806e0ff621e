import { Card } from '../../shared/components/Card';
import { LineChart } from '../../shared/components/LineChart';
import { formatPercent } from '../../shared/format/units';
import { MetricError } from './MetricError';
import { gapForStep, seriesByDim } from './metricSeries';
import type { TimeRange } from './ranges';
import { useMetric } from './useMetric';

interface CpuChartProps {
  agentId: string;
  range: TimeRange;
}

/** cpu.usage_pct, dim total, on a fixed 0–100 % axis. */
export function CpuChart({ agentId, range }: CpuChartProps) {
  const { data, error } = useMetric(agentId, 'cpu.usage_pct', 'total', range);
  const series = seriesByDim(data, () => 'CPU busy');
  return (
    <Card title="CPU usage">
      <LineChart
        testId="chart-cpu"
        label="CPU usage"
        series={series}
        from={data?.fromMs ?? Date.now() - range.ms}
        to={data?.toMs ?? Date.now()}
        formatValue={(v) => formatPercent(v, 0)}
        yFloor={0}
        yCeil={100}
        maxGapMs={gapForStep(data?.step_s)}
      />
      <MetricError error={error} />
    </Card>
  );
}
