import { readyz } from '../../api/generated/core';
import type { Ready } from '../../api/generated/model';
import { ApiError } from '../../api/http';
import { usePolling, type PollState } from '../../shared/hooks/usePolling';

export const READINESS_REFRESH_MS = 15_000;

/** GET /readyz every 15 s; a 503 still yields its body (the failing checks) as data. */
export function useReadiness(): PollState<Ready> {
  return usePolling(
    'readyz',
    async (signal) => {
      try {
        return await readyz({ signal });
      } catch (err) {
        if (err instanceof ApiError && err.status === 503 && isReady(err.body)) return err.body;
        throw err;
      }
    },
    READINESS_REFRESH_MS,
  );
}

function isReady(body: unknown): body is Ready {
  return typeof body === 'object' && body !== null && 'status' in body && 'checks' in body;
}
