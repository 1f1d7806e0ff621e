import { describe, expect, it } from 'vitest';
import { formatClock, formatDateTime, formatRelativeTime } from './time';

const NOW = Date.parse('2026-05-01T12:00:00Z');

describe('formatRelativeTime', () => {
  it('reads past times', () => {
    expect(formatRelativeTime(NOW - 1_000, NOW)).toBe('just now');
    expect(formatRelativeTime(NOW - 42_000, NOW)).toBe('42 s ago');
    expect(formatRelativeTime(NOW - 5 * 60_000, NOW)).toBe('5 min ago');
    expect(formatRelativeTime(NOW - 3 * 3_600_000, NOW)).toBe('3 h ago');
    expect(formatRelativeTime(NOW - 2 * 86_400_000, NOW)).toBe('2 d ago');
  });
  it('accepts RFC 3339 strings and Dates', () => {
    expect(formatRelativeTime('2026-05-01T11:59:30Z', NOW)).toBe('30 s ago');
    expect(formatRelativeTime(new Date(NOW - 120_000), NOW)).toBe('2 min ago');
  });
  it('handles clocks ahead and garbage', () => {
    expect(formatRelativeTime(NOW + 30_000, NOW)).toBe('in 30 s');
    expect(formatRelativeTime('not a date', NOW)).toBe('never');
  });
});

describe('formatClock / formatDateTime', () => {
  it('pads local hours and minutes', () => {
    const t = new Date(2026, 0, 2, 3, 4, 5).getTime();
    expect(formatClock(t)).toBe('03:04');
    expect(formatClock(t, true)).toBe('03:04:05');
    expect(formatDateTime(t)).toBe('2026-01-02 03:04:05');
  });
});
