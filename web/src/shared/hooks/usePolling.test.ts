import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { usePolling } from './usePolling';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('usePolling', () => {
  it('fetches at once, then every interval after each answer', async () => {
    let n = 0;
    const fetcher = vi.fn(async () => ++n);
    const { result, unmount } = renderHook(() => usePolling('k', fetcher, 5000));
    expect(result.current.loading).toBe(true);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.data).toBe(1);
    expect(result.current.loading).toBe(false);
    await act(() => vi.advanceTimersByTimeAsync(4999));
    expect(fetcher).toHaveBeenCalledTimes(1);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(result.current.data).toBe(2);
    unmount();
    await act(() => vi.advanceTimersByTimeAsync(20_000));
    expect(fetcher).toHaveBeenCalledTimes(2);
  });

  it('keeps the last data when a poll fails and clears the error on success', async () => {
    const fetcher = vi
      .fn<() => Promise<string>>()
      .mockResolvedValueOnce('a')
      .mockRejectedValueOnce(new Error('down'))
      .mockResolvedValueOnce('b');
    const { result } = renderHook(() => usePolling('k', fetcher, 1000));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.data).toBe('a');
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.error?.message).toBe('down');
    expect(result.current.data).toBe('a');
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.error).toBeUndefined();
    expect(result.current.data).toBe('b');
  });

  it('starts afresh and aborts the old request when the key changes', async () => {
    const signals: AbortSignal[] = [];
    const fetcher = vi.fn((signal: AbortSignal) => {
      signals.push(signal);
      return new Promise<string>(() => {}); // never answers
    });
    const { result, rerender } = renderHook(({ k }) => usePolling(k, fetcher, 1000), { initialProps: { k: 'a' } });
    await act(() => vi.advanceTimersByTimeAsync(0));
    rerender({ k: 'b' });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(signals[0]?.aborted).toBe(true);
    expect(signals.at(-1)?.aborted).toBe(false);
    expect(result.current.data).toBeUndefined();
    expect(result.current.loading).toBe(true);
  });

  it('does not show data of an old key', async () => {
    const fetcher = vi.fn(async (_s: AbortSignal) => 'x');
    const { result, rerender } = renderHook(({ k }) => usePolling(k, fetcher, 1000), { initialProps: { k: 'a' } });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.data).toBe('x');
    fetcher.mockImplementation(() => new Promise(() => {}));
    rerender({ k: 'b' });
    expect(result.current.data).toBeUndefined();
  });

  it('refresh polls again now', async () => {
    const fetcher = vi.fn(async () => 1);
    const { result } = renderHook(() => usePolling('k', fetcher, 60_000));
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => result.current.refresh());
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(fetcher).toHaveBeenCalledTimes(2);
  });
});
