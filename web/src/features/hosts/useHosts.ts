import { listHosts } from '../../api/generated/core';
import type { Host } from '../../api/generated/model';
import { usePolling, type PollState } from '../../shared/hooks/usePolling';

export const HOSTS_REFRESH_MS = 5_000;

/** Every known host, polled every 5 s. */
export function useHosts(): PollState<Host[]> {
  return usePolling('hosts', (signal) => listHosts({ signal }), HOSTS_REFRESH_MS);
}
