// The time ranges the host page offers, and how often each refreshes.

export interface TimeRange {
  id: '15m' | '1h' | '6h' | '24h';
  label: string;
  ms: number;
  refreshMs: number;
}

export const TIME_RANGES: readonly TimeRange[] = [
  { id: '15m', label: '15 min', ms: 15 * 60_000, refreshMs: 5_000 },
  { id: '1h', label: '1 h', ms: 60 * 60_000, refreshMs: 5_000 },
  { id: '6h', label: '6 h', ms: 6 * 60 * 60_000, refreshMs: 10_000 },
  { id: '24h', label: '24 h', ms: 24 * 60 * 60_000, refreshMs: 10_000 },
];

export const DEFAULT_RANGE: TimeRange = TIME_RANGES[0]!;

/** The range named by `id` (from the URL), or the default one. */
export function rangeById(id: string | null | undefined): TimeRange {
  return TIME_RANGES.find((r) => r.id === id) ?? DEFAULT_RANGE;
}
