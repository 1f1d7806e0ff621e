import { getHostMetrics } from '../../api/generated/core';
import type { MetricSeriesSet } from '../../api/generated/model';
import { usePolling, type PollState } from '../../shared/hooks/usePolling';
import type { TimeRange } from './ranges';

export interface MetricWindow {
  /** Time domain of the last answer (Unix ms), so charts and data agree. */
  fromMs: number;
  toMs: number;
}

export type MetricState = PollState<MetricSeriesSet & MetricWindow>;

/**
 * One metric of one host over the last `range`, polled every range.refreshMs.
 * `dim` undefined asks for every dimension (one series each).
 */
export function useMetric(agentId: string, name: string, dim: string | undefined, range: TimeRange): MetricState {
  const key = `${agentId}|${name}|${dim ?? '*'}|${range.id}`;
  return usePolling(
    key,
    async (signal) => {
      const to = Date.now();
      const from = to - range.ms;
      const set = await getHostMetrics(
        encodeURIComponent(agentId),
        { name, ...(dim === undefined ? {} : { dim }), from: String(from), to: String(to) },
        { signal },
      );
      return { ...set, fromMs: from, toMs: to };
    },
    range.refreshMs,
  );
}
