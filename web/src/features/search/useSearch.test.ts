import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueryRequest } from '../../api/generated/model';
import { eventsPage } from './testData';
import { useSearch } from './useSearch';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function requests(fetchMock: ReturnType<typeof vi.fn>): QueryRequest[] {
  return fetchMock.mock.calls.map(([url, init]) => {
    expect(url).toBe('/api/v1/query');
    expect((init as RequestInit).method).toBe('POST');
    return JSON.parse(String((init as RequestInit).body)) as QueryRequest;
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('useSearch', () => {
  it('asks for the histogram, then pages with next_cursor', async () => {
    const pages = [eventsPage(0, 2, 'cursor-1'), eventsPage(2, 1, null)];
    const fetchMock = vi.fn(async () => json(200, pages.shift()));
    vi.stubGlobal('fetch', fetchMock);

    const { result } = renderHook(() => useSearch('type:falco_alert', 0, false));
    await waitFor(() => expect(result.current.state.status).toBe('done'));
    expect(result.current.state.result?.rows).toHaveLength(2);

    act(() => result.current.loadMore());
    await waitFor(() => expect(result.current.state.result?.rows).toHaveLength(3));
    expect(result.current.state.result?.nextCursor).toBeNull();
    expect(requests(fetchMock)).toEqual([
      { query: 'type:falco_alert', histogram: true },
      { query: 'type:falco_alert', cursor: 'cursor-1' },
    ]);
  });

  it('reports an SRQL error with its position', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        json(400, { error: { code: 'bad_request', message: 'expected a value', position: 5, length: 0, hint: 'a value' } }),
      ),
    );
    const { result } = renderHook(() => useSearch('host:', 0, false));
    await waitFor(() => expect(result.current.state.status).toBe('error'));
    expect(result.current.state.error).toMatchObject({ kind: 'syntax', position: 5, length: 0, hint: 'a value' });
  });

  it('fetches the SQL when asked for after the rows, without losing them', async () => {
    const fetchMock = vi.fn(async (_url: string, init?: RequestInit) => {
      const req = JSON.parse(String(init?.body)) as QueryRequest;
      return json(
        200,
        eventsPage(0, 2, null, req.explain ? { explain: { sql: 'SELECT … WHERE source_type = $1', params: ['falco_alert'] } } : {}),
      );
    });
    vi.stubGlobal('fetch', fetchMock);
    const { result, rerender } = renderHook(({ sql }) => useSearch('type:falco_alert', 0, sql), {
      initialProps: { sql: false },
    });
    await waitFor(() => expect(result.current.state.status).toBe('done'));
    rerender({ sql: true });
    await waitFor(() => expect(result.current.state.result?.explain?.params).toEqual(['falco_alert']));
    expect(result.current.state.result?.rows).toHaveLength(2);
    expect(requests(fetchMock)[1]).toEqual({ query: 'type:falco_alert', explain: true });
  });

  it('runs again for a new run key and drops the answer of a replaced search', async () => {
    const resolvers: ((r: Response) => void)[] = [];
    const fetchMock = vi.fn(
      (_url: string, init?: RequestInit) =>
        new Promise<Response>((resolve, reject) => {
          resolvers.push(resolve);
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    vi.stubGlobal('fetch', fetchMock);
    const { result, rerender } = renderHook(({ q, key }) => useSearch(q, key, false), {
      initialProps: { q: 'a', key: 0 },
    });
    rerender({ q: 'b', key: 0 });
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
    const [first, second] = fetchMock.mock.calls.map(([, init]) => (init as RequestInit).signal!);
    expect(first?.aborted).toBe(true);
    expect(second?.aborted).toBe(false);
    await act(async () => resolvers[1]!(json(200, eventsPage(0, 1, null))));
    await waitFor(() => expect(result.current.state.status).toBe('done'));
    expect(result.current.state.query).toBe('b');

    rerender({ q: 'b', key: 1 });
    expect(result.current.state.status).toBe('loading');
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(3));
  });

  it('does nothing for an empty query', () => {
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    const { result } = renderHook(() => useSearch('   ', 0, true));
    expect(result.current.state.status).toBe('idle');
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
