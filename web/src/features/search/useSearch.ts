import { useCallback, useEffect, useReducer, useRef } from 'react';
import { runQuery } from '../../api/generated/core';
import { toQueryError } from './queryError';
import { initialSearchState, searchReducer, type SearchState } from './searchState';

export interface SearchControls {
  state: SearchState;
  /** Fetches the next page (next_cursor) and appends its rows. */
  loadMore: () => void;
  /** Asks for the SQL again after fetching it failed. */
  retryExplain: () => void;
}

function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/**
 * Runs `query` whenever it or `runKey` changes (a new key re-runs the same query), with the event
 * histogram, and the SQL when `showSql`. Turning `showSql` on later fetches the SQL alone, leaving
 * the loaded rows in place. A new search aborts everything still in flight for the old one.
 */
export function useSearch(query: string, runKey: number, showSql: boolean): SearchControls {
  const [state, dispatch] = useReducer(searchReducer, initialSearchState);
  const seqRef = useRef(0);
  const ctrlRef = useRef<AbortController | null>(null);
  const showSqlRef = useRef(showSql);
  showSqlRef.current = showSql;

  useEffect(() => {
    const seq = ++seqRef.current;
    const ctrl = new AbortController();
    ctrlRef.current = ctrl;
    if (query.trim() === '') {
      dispatch({ type: 'reset', seq });
      return () => ctrl.abort();
    }
    dispatch({ type: 'start', seq, query });
    runQuery({ query, histogram: true, explain: showSqlRef.current || undefined }, { signal: ctrl.signal }).then(
      (response) => dispatch({ type: 'firstPage', seq, response }),
      (err: unknown) => {
        if (!isAbort(err) && !ctrl.signal.aborted) dispatch({ type: 'failed', seq, error: toQueryError(err) });
      },
    );
    return () => ctrl.abort();
  }, [query, runKey]);

  const cursor = state.result?.nextCursor ?? null;
  const loading = state.more === 'loading';
  const loadMore = useCallback(() => {
    const ctrl = ctrlRef.current;
    if (!cursor || loading || !ctrl || ctrl.signal.aborted) return;
    const seq = seqRef.current;
    dispatch({ type: 'moreStart', seq });
    runQuery({ query: state.query, cursor }, { signal: ctrl.signal }).then(
      (response) => dispatch({ type: 'morePage', seq, response }),
      (err: unknown) => {
        if (!isAbort(err) && !ctrl.signal.aborted) dispatch({ type: 'moreFailed', seq, error: toQueryError(err) });
      },
    );
  }, [cursor, loading, state.query]);

  const needExplain =
    showSql &&
    state.status === 'done' &&
    state.result !== undefined &&
    !state.result.explain &&
    state.explainPhase === 'idle';
  useEffect(() => {
    if (!needExplain) return;
    const ctrl = ctrlRef.current;
    if (!ctrl || ctrl.signal.aborted) return;
    const seq = state.seq;
    dispatch({ type: 'explainStart', seq });
    runQuery({ query: state.query, explain: true }, { signal: ctrl.signal }).then(
      (response) => {
        if (response.explain) dispatch({ type: 'explain', seq, explain: response.explain });
        else
          dispatch({
            type: 'explainFailed',
            seq,
            error: { kind: 'failure', code: 'bad_response', message: 'the core sent no SQL for this query', status: 200 },
          });
      },
      (err: unknown) => {
        if (!isAbort(err) && !ctrl.signal.aborted) dispatch({ type: 'explainFailed', seq, error: toQueryError(err) });
      },
    );
  }, [needExplain, state.seq, state.query]);

  const retryExplain = useCallback(() => dispatch({ type: 'explainRetry', seq: seqRef.current }), []);

  return { state, loadMore, retryExplain };
}
