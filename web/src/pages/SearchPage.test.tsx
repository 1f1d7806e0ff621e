import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueryRequest } from '../api/generated/model';
import { eventsPage } from '../features/search/testData';
import { SearchPage } from './SearchPage';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function renderAt(url: string) {
  const router = createMemoryRouter([{ path: '/search', element: <SearchPage /> }], { initialEntries: [url] });
  render(<RouterProvider router={router} />);
  return router;
}

function bodies(fetchMock: ReturnType<typeof vi.fn>): QueryRequest[] {
  return fetchMock.mock.calls.map(([, init]) => JSON.parse(String((init as RequestInit).body)) as QueryRequest);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('SearchPage', () => {
  it('runs the query from the URL, and Enter puts a new one in the URL', async () => {
    const fetchMock = vi.fn(async (_url: string, init?: RequestInit) => {
      const req = JSON.parse(String(init?.body)) as QueryRequest;
      return json(200, eventsPage(0, req.query === 'b' ? 1 : 2, null));
    });
    vi.stubGlobal('fetch', fetchMock);
    const router = renderAt('/search?q=a');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    expect(screen.getByTestId('srql-input')).toHaveProperty('value', 'a');

    const input = screen.getByTestId('srql-input');
    fireEvent.change(input, { target: { value: '  b ' } });
    fireEvent.submit(input.closest('form')!);
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(1));
    expect(router.state.location.search).toBe('?q=b');
    expect(bodies(fetchMock).map((b) => b.query)).toEqual(['a', 'b']);

    // Back: the box and the results follow the URL
    await act(() => router.navigate(-1));
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    expect(screen.getByTestId('srql-input')).toHaveProperty('value', 'a');
  });

  it('shows highlighted rows, opens a detail, loads more and shows the SQL', async () => {
    const fetchMock = vi.fn(async (_url: string, init?: RequestInit) => {
      const req = JSON.parse(String(init?.body)) as QueryRequest;
      if (req.cursor) return json(200, eventsPage(2, 1, null));
      return json(
        200,
        eventsPage(0, 2, 'next', {
          histogram: { bucket_s: 60, buckets: [{ time: '2024-05-07T18:54:00Z', count: 3 }] },
          ...(req.explain ? { explain: { sql: 'SELECT time FROM events WHERE source_type = $1', params: ['falco_alert'] } } : {}),
        }),
      );
    });
    vi.stubGlobal('fetch', fetchMock);
    const router = renderAt('/search?q=shell');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    expect(screen.getByTestId('search-summary').textContent).toContain('2 of 3 matching events');
    expect(screen.getByTestId('search-histogram').dataset.total).toBe('3');

    fireEvent.click(screen.getByTestId('load-more'));
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(3));
    expect(screen.queryByTestId('load-more')).toBeNull();
    expect(bodies(fetchMock)[1]).toEqual({ query: 'shell', cursor: 'next' });

    fireEvent.click(within(screen.getAllByTestId('event-row')[1]!).getByTestId('event-open'));
    const detail = screen.getByTestId('event-detail');
    expect(within(detail).getByTestId('detail-fields').textContent).toContain('proc.cmdline');
    expect(within(detail).getByText('2 of 3')).toBeTruthy();
    fireEvent.keyDown(document, { key: 'j' });
    expect(within(screen.getByTestId('event-detail')).getByText('3 of 3')).toBeTruthy();
    fireEvent.keyDown(document, { key: 'k' });
    fireEvent.keyDown(document, { key: 'k' });
    expect(within(screen.getByTestId('event-detail')).getByText('1 of 3')).toBeTruthy();
    fireEvent.keyDown(document, { key: 'Escape' });
    expect(screen.queryByTestId('event-detail')).toBeNull();

    fireEvent.click(screen.getByTestId('toggle-sql'));
    await waitFor(() => expect(screen.getByTestId('sql-text').textContent).toContain('$1'));
    expect(router.state.location.search).toBe('?q=shell&sql=1');
    expect(screen.getAllByTestId('event-row')).toHaveLength(3);
  });

  it('filters on a value of the event detail', async () => {
    const fetchMock = vi.fn(async () => json(200, eventsPage(0, 2, null)));
    vi.stubGlobal('fetch', fetchMock);
    const router = renderAt('/search?q=shell+limit%3A10');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    fireEvent.click(within(screen.getAllByTestId('event-row')[0]!).getByTestId('event-open'));
    fireEvent.click(screen.getByRole('button', { name: 'Exclude host:"host-0"' }));
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
    const q = 'shell AND NOT host:"host-0" limit:10';
    expect(new URLSearchParams(router.state.location.search).get('q')).toBe(q);
    expect(bodies(fetchMock)[1]?.query).toBe(q);
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    fireEvent.click(within(screen.getAllByTestId('event-row')[0]!).getByTestId('event-open'));
    fireEvent.click(screen.getByRole('button', { name: 'Filter on proc.tty:34816' }));
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(3));
    expect(bodies(fetchMock)[2]?.query).toBe('shell AND NOT host:"host-0" AND proc.tty:34816 limit:10');
  });

  it('shows an SRQL error under the box and marks the box invalid', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        json(400, { error: { code: 'bad_request', message: 'unbalanced parenthesis', position: 5, length: 1, hint: ')' } }),
      ),
    );
    renderAt('/search?q=host%3A(a');
    await waitFor(() => expect(screen.getByTestId('query-error-span').textContent).toBe('('));
    expect(screen.getByTestId('srql-input').getAttribute('aria-invalid')).toBe('true');
  });

  it('opens the syntax help on an empty page and runs a clicked example', async () => {
    const fetchMock = vi.fn(async () => json(200, eventsPage(0, 0, null)));
    vi.stubGlobal('fetch', fetchMock);
    const router = renderAt('/search');
    const help = screen.getByTestId('srql-help');
    expect(fetchMock).not.toHaveBeenCalled();
    fireEvent.click(within(help).getAllByRole('button')[0]!);
    await waitFor(() => expect(screen.getByTestId('search-empty')).toBeTruthy());
    expect(new URLSearchParams(router.state.location.search).get('q')).toBe('type:falco_alert AND severity:>=high');
  });
});
