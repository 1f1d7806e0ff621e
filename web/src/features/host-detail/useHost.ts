import { getHost } from '../../api/generated/core';
import type { Host } from '../../api/generated/model';
import { usePolling, type PollState } from '../../shared/hooks/usePolling';

export const HOST_REFRESH_MS = 5_000;

/** One host's facts, polled every 5 s. */
export function useHost(agentId: string): PollState<Host> {
  return usePolling(`host|${agentId}`, (signal) => getHost(encodeURIComponent(agentId), { signal }), HOST_REFRESH_MS);
}
