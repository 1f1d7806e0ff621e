// The search page's data as a reducer: one query run at a time (identified by `seq`), its first
// page, further pages appended through next_cursor, and the SQL fetched on demand. Answers of an
// older run are ignored, so a slow response can never overwrite a newer search.

import type { QueryExplain, QueryResponse } from '../../api/generated/model';
import type { QueryError } from './queryError';

export interface SearchResult {
  kind: QueryResponse['kind'];
  columns: QueryResponse['columns'];
  rows: unknown[][];
  highlight: string[];
  histogram: QueryResponse['histogram'];
  explain: QueryExplain | undefined;
  /** Cursor of the next page; null when every row is loaded. */
  nextCursor: string | null;
  /** Elapsed time of the last page the core answered, and of all pages together. */
  elapsedMs: number;
  totalElapsedMs: number;
  pages: number;
}

export type LoadPhase = 'idle' | 'loading' | 'error';

export interface SearchState {
  seq: number;
  query: string;
  status: 'idle' | 'loading' | 'done' | 'error';
  result: SearchResult | undefined;
  error: QueryError | undefined;
  more: LoadPhase;
  moreError: QueryError | undefined;
  explainPhase: LoadPhase;
  explainError: QueryError | undefined;
}

export type SearchAction =
  | { type: 'reset'; seq: number }
  | { type: 'start'; seq: number; query: string }
  | { type: 'firstPage'; seq: number; response: QueryResponse }
  | { type: 'failed'; seq: number; error: QueryError }
  | { type: 'moreStart'; seq: number }
  | { type: 'morePage'; seq: number; response: QueryResponse }
  | { type: 'moreFailed'; seq: number; error: QueryError }
  | { type: 'explainStart'; seq: number }
  | { type: 'explain'; seq: number; explain: QueryExplain }
  | { type: 'explainFailed'; seq: number; error: QueryError }
  | { type: 'explainRetry'; seq: number };

export const initialSearchState: SearchState = {
  seq: 0,
  query: '',
  status: 'idle',
  result: undefined,
  error: undefined,
  more: 'idle',
  moreError: undefined,
  explainPhase: 'idle',
  explainError: undefined,
};

function sameColumns(a: QueryResponse['columns'], b: QueryResponse['columns']): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]?.name && c.type === b[i]?.type);
}

export function searchReducer(state: SearchState, action: SearchAction): SearchState {
  if (action.type === 'reset') return { ...initialSearchState, seq: action.seq };
  if (action.type === 'start') {
    return { ...initialSearchState, seq: action.seq, query: action.query, status: 'loading' };
  }
  if (action.seq !== state.seq) return state; // an answer to an older search
  switch (action.type) {
    case 'firstPage': {
      const r = action.response;
      return {
        ...state,
        status: 'done',
        error: undefined,
        result: {
          kind: r.kind,
          columns: r.columns,
          rows: r.rows,
          highlight: r.highlight ?? [],
          histogram: r.histogram,
          explain: r.explain,
          nextCursor: r.next_cursor ?? null,
          elapsedMs: r.elapsed_ms,
          totalElapsedMs: r.elapsed_ms,
          pages: 1,
        },
      };
    }
    case 'failed':
      return { ...state, status: 'error', error: action.error, result: undefined };
    case 'moreStart':
      if (!state.result?.nextCursor || state.more === 'loading') return state;
      return { ...state, more: 'loading', moreError: undefined };
    case 'morePage': {
      const prev = state.result;
      const r = action.response;
      if (!prev || state.more !== 'loading') return state;
      if (r.kind !== prev.kind || !sameColumns(r.columns, prev.columns)) {
        return {
          ...state,
          more: 'error',
          moreError: {
            kind: 'failure',
            code: 'bad_response',
            message: 'the next page came back with different columns; run the search again',
            status: 200,
          },
        };
      }
      return {
        ...state,
        more: 'idle',
        result: {
          ...prev,
          rows: [...prev.rows, ...r.rows],
          nextCursor: r.next_cursor ?? null,
          elapsedMs: r.elapsed_ms,
          totalElapsedMs: prev.totalElapsedMs + r.elapsed_ms,
          pages: prev.pages + 1,
        },
      };
    }
    case 'moreFailed':
      return { ...state, more: 'error', moreError: action.error };
    case 'explainStart':
      return { ...state, explainPhase: 'loading', explainError: undefined };
    case 'explain':
      if (!state.result) return state;
      return { ...state, explainPhase: 'idle', result: { ...state.result, explain: action.explain } };
    case 'explainFailed':
      return { ...state, explainPhase: 'error', explainError: action.error };
    case 'explainRetry':
      return state.explainPhase === 'error' ? { ...state, explainPhase: 'idle', explainError: undefined } : state;
  }
}
