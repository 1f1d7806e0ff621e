import { describe, expect, it } from 'vitest';
import { initialSearchState, searchReducer, type SearchAction, type SearchState } from './searchState';
import { eventsPage } from './testData';

function run(actions: SearchAction[], from: SearchState = initialSearchState): SearchState {
  return actions.reduce(searchReducer, from);
}

const histogram = { bucket_s: 60, buckets: [{ time: '2024-05-07T18:54:00Z', count: 25 }] };

describe('searchReducer', () => {
  it('appends pages through next_cursor until the cursor is null', () => {
    let s = run([
      { type: 'start', seq: 1, query: 'type:falco_alert' },
      { type: 'firstPage', seq: 1, response: eventsPage(0, 10, 'c1', { histogram }) },
    ]);
    expect(s.status).toBe('done');
    expect(s.result?.rows).toHaveLength(10);
    expect(s.result?.nextCursor).toBe('c1');

    s = run([{ type: 'moreStart', seq: 1 }], s);
    expect(s.more).toBe('loading');
    // a second click while the page is on its way changes nothing
    expect(run([{ type: 'moreStart', seq: 1 }], s)).toBe(s);

    s = run([{ type: 'morePage', seq: 1, response: eventsPage(10, 10, 'c2', { elapsed_ms: 5 }) }], s);
    expect(s.more).toBe('idle');
    expect(s.result?.rows).toHaveLength(20);
    expect(s.result?.rows[10]?.[2]).toBe('host-10');
    expect(s.result?.nextCursor).toBe('c2');
    expect(s.result?.pages).toBe(2);
    expect(s.result?.elapsedMs).toBe(5);
    expect(s.result?.totalElapsedMs).toBe(8);
    expect(s.result?.histogram).toEqual(histogram); // the first page's histogram stays

    s = run(
      [
        { type: 'moreStart', seq: 1 },
        { type: 'morePage', seq: 1, response: eventsPage(20, 5, null) },
      ],
      s,
    );
    expect(s.result?.rows).toHaveLength(25);
    expect(s.result?.nextCursor).toBeNull();
    // no cursor: nothing more to load
    expect(run([{ type: 'moreStart', seq: 1 }], s)).toBe(s);
  });

  it('ignores answers to an older search', () => {
    const s = run([
      { type: 'start', seq: 1, query: 'a' },
      { type: 'start', seq: 2, query: 'b' },
      { type: 'firstPage', seq: 1, response: eventsPage(0, 3, null) },
      { type: 'failed', seq: 1, error: { kind: 'failure', code: 'x', message: 'x', status: 500 } },
    ]);
    expect(s.query).toBe('b');
    expect(s.status).toBe('loading');
    expect(s.result).toBeUndefined();
  });

  it('keeps the rows when a further page fails, and refuses a page with other columns', () => {
    const loaded = run([
      { type: 'start', seq: 1, query: 'a' },
      { type: 'firstPage', seq: 1, response: eventsPage(0, 2, 'c1') },
      { type: 'moreStart', seq: 1 },
    ]);
    const failed = run(
      [{ type: 'moreFailed', seq: 1, error: { kind: 'failure', code: 'internal', message: 'boom', status: 500 } }],
      loaded,
    );
    expect(failed.more).toBe('error');
    expect(failed.result?.rows).toHaveLength(2);
    expect(failed.result?.nextCursor).toBe('c1');

    const mismatch = run(
      [{ type: 'morePage', seq: 1, response: { ...eventsPage(2, 2, null), columns: [{ name: 'n', type: 'integer' }] } }],
      loaded,
    );
    expect(mismatch.more).toBe('error');
    expect(mismatch.result?.rows).toHaveLength(2);
  });

  it('adds the SQL to the loaded result and can retry after a failure', () => {
    let s = run([
      { type: 'start', seq: 1, query: 'a' },
      { type: 'firstPage', seq: 1, response: eventsPage(0, 2, null) },
      { type: 'explainStart', seq: 1 },
      { type: 'explainFailed', seq: 1, error: { kind: 'failure', code: 'x', message: 'down', status: 503 } },
    ]);
    expect(s.explainPhase).toBe('error');
    s = run([{ type: 'explainRetry', seq: 1 }, { type: 'explainStart', seq: 1 }], s);
    expect(s.explainPhase).toBe('loading');
    s = run([{ type: 'explain', seq: 1, explain: { sql: 'SELECT 1 WHERE a = $1', params: ['x'] } }], s);
    expect(s.explainPhase).toBe('idle');
    expect(s.result?.explain?.params).toEqual(['x']);
    expect(s.result?.rows).toHaveLength(2);
  });

  it('starts afresh on a new search and on reset', () => {
    const s = run([
      { type: 'start', seq: 1, query: 'a' },
      { type: 'firstPage', seq: 1, response: eventsPage(0, 2, null) },
      { type: 'start', seq: 2, query: 'b' },
    ]);
    expect(s).toMatchObject({ seq: 2, query: 'b', status: 'loading', result: undefined });
    expect(run([{ type: 'reset', seq: 3 }], s)).toMatchObject({ seq: 3, query: '', status: 'idle' });
  });
});
