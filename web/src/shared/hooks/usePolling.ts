import { useCallback, useEffect, useRef, useState } from 'react';

export interface PollState<T> {
  /** The last successful answer for the current key; kept while a later poll fails. */
  data: T | undefined;
  /** The error of the last poll, cleared by the next success. */
  error: Error | undefined;
  /** True until the first answer (success or failure) for the current key. */
  loading: boolean;
  /** Date.now() of the last successful answer. */
  updatedAt: number | undefined;
  /** Polls again now. */
  refresh: () => void;
}

interface Snapshot<T> {
  key: string;
  data: T | undefined;
  error: Error | undefined;
  updatedAt: number | undefined;
  settled: boolean;
}

/**
 * Calls `fetcher` now and again `intervalMs` after each answer (never two at once), until the
 * component unmounts or `key` changes: a new key starts afresh (no data from the old key is shown)
 * and aborts the request in flight. `fetcher` may change on every render; the latest one is used.
 */
export function usePolling<T>(
  key: string,
  fetcher: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
): PollState<T> {
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const [tick, setTick] = useState(0);
  const [snap, setSnap] = useState<Snapshot<T>>(() => ({
    key,
    data: undefined,
    error: undefined,
    updatedAt: undefined,
    settled: false,
  }));

  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const poll = async () => {
      try {
        const data = await fetcherRef.current(ctrl.signal);
        if (ctrl.signal.aborted) return;
        setSnap({ key, data, error: undefined, updatedAt: Date.now(), settled: true });
      } catch (err) {
        if (ctrl.signal.aborted) return;
        const error = err instanceof Error ? err : new Error(String(err));
        setSnap((prev) =>
          prev.key === key
            ? { ...prev, error, settled: true }
            : { key, data: undefined, error, updatedAt: undefined, settled: true },
        );
      }
      if (!ctrl.signal.aborted) timer = setTimeout(poll, intervalMs);
    };
    void poll();

    return () => {
      ctrl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  const current = snap.key === key;
  return {
    data: current ? snap.data : undefined,
    error: current ? snap.error : undefined,
    loading: !current || !snap.settled,
    updatedAt: current ? snap.updatedAt : undefined,
    refresh,
  };
}
