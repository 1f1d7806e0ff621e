import { Card } from '../../shared/components/Card';
import { LineChart } from '../../shared/components/LineChart';
import { lastValue } from '../../shared/chart/series';
import { formatBytes, formatPercent } from '../../shared/format/units';
import { MetricError } from './MetricError';
import { gapForStep, seriesByDim } from './metricSeries';
import type { TimeRange } from './ranges';
import { useMetric } from './useMetric';

interface DiskUsageProps {
  agentId: string;
  range: TimeRange;
}

/** disk.used_pct per mount over time, and each mount's current used / total as a meter. */
export function DiskUsage({ agentId, range }: DiskUsageProps) {
  const pct = useMetric(agentId, 'disk.used_pct', undefined, range);
  const used = useMetric(agentId, 'disk.used_bytes', undefined, range);
  const total = useMetric(agentId, 'disk.total_bytes', undefined, range);
  const series = seriesByDim(pct.data);
  const usedNow = new Map(seriesByDim(used.data).map((s) => [s.key, lastValue(s.points)]));
  const totalNow = new Map(seriesByDim(total.data, undefined, 'max').map((s) => [s.key, lastValue(s.points)]));
  const mounts = series.map((s) => ({
    mount: s.key,
    pct: lastValue(s.points),
    used: usedNow.get(s.key),
    total: totalNow.get(s.key),
  }));
  return (
    <Card title="Disk usage" className="card-wide">
      <LineChart
        testId="chart-disk"
        label="Disk usage per mount"
        series={series}
        from={pct.data?.fromMs ?? Date.now() - range.ms}
        to={pct.data?.toMs ?? Date.now()}
        formatValue={(v) => formatPercent(v, 0)}
        yFloor={0}
        yCeil={100}
        maxGapMs={gapForStep(pct.data?.step_s)}
      />
      {mounts.length > 0 && (
        <table className="table table-compact" data-testid="disk-table">
          <caption className="visually-hidden">Current disk usage per mount</caption>
          <thead>
            <tr>
              <th scope="col">Mount</th>
              <th scope="col">Used</th>
              <th scope="col">Size</th>
              <th scope="col">Usage</th>
            </tr>
          </thead>
          <tbody>
            {mounts.map((m) => (
              <tr key={m.mount} data-mount={m.mount}>
                <th scope="row" className="mono">
                  {m.mount}
                </th>
                <td>{m.used === undefined ? '–' : formatBytes(m.used)}</td>
                <td>{m.total === undefined ? '–' : formatBytes(m.total)}</td>
                <td className="meter-cell">
                  <meter
                    min={0}
                    max={100}
                    low={80}
                    high={90}
                    optimum={0}
                    value={m.pct ?? 0}
                    aria-label={`${m.mount} used`}
                  />
                  <span>{m.pct === undefined ? '–' : formatPercent(m.pct)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <MetricError error={pct.error ?? used.error ?? total.error} />
    </Card>
  );
}
