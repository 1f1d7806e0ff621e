import { useCallback, useEffect, useState } from 'react';
import { EventDetail } from './EventDetail';
import { EventHistogram } from './EventHistogram';
import { EventsTable } from './EventsTable';
import type { SearchState } from './searchState';
import { StatsTable } from './StatsTable';

interface SearchResultsProps {
  state: SearchState;
  loadMore: () => void;
  /** Runs the query again with one more condition, from the event detail. */
  onFilter: (term: string, negate: boolean) => void;
}

/** The answer to a query: histogram and events (with the detail panel), or the stats table; paging. */
export function SearchResults({ state, loadMore, onFilter }: SearchResultsProps) {
  const [selected, setSelected] = useState<number | null>(null);
  const result = state.result;

  useEffect(() => setSelected(null), [state.seq]);

  const close = useCallback(() => {
    const i = selected;
    setSelected(null);
    // Give the keyboard back to the row the panel was opened from.
    if (i !== null) {
      document.querySelectorAll<HTMLButtonElement>('[data-testid="event-open"]')[i]?.focus();
    }
  }, [selected]);

  if (!result) return null;
  const rows = result.rows;
  const row = selected === null ? undefined : rows[selected];

  return (
    <>
      {result.kind === 'events' && result.histogram && (
        <section className="card histogram-card" aria-label="Matching events over time">
          <EventHistogram histogram={result.histogram} />
        </section>
      )}
      {rows.length === 0 ? (
        <div className="state state-empty" data-testid="search-empty">
          <h2 className="state-title">{result.kind === 'events' ? 'No events match' : 'No rows'}</h2>
          <p className="state-text">
            Nothing matched this query. Widen the time range (<code>time:last_7d</code>), drop a condition, or use a
            wildcard (<code>user:adm*</code>).
          </p>
        </div>
      ) : result.kind === 'events' ? (
        <EventsTable
          columns={result.columns}
          rows={rows}
          highlight={result.highlight}
          selected={selected}
          onSelect={setSelected}
        />
      ) : (
        <StatsTable columns={result.columns} rows={rows} />
      )}
      {(result.nextCursor || state.more === 'error') && (
        <div className="load-more">
          <button
            type="button"
            className="button button-secondary"
            onClick={loadMore}
            disabled={state.more === 'loading'}
            aria-busy={state.more === 'loading'}
            data-testid="load-more"
          >
            {state.more === 'loading' ? 'Loading…' : 'Load more'}
          </button>
          {state.more === 'error' && state.moreError && (
            <span className="metric-error" role="alert">
              Could not load the next page: {state.moreError.message}
            </span>
          )}
        </div>
      )}
      {!result.nextCursor && rows.length > 0 && result.pages > 1 && (
        <p className="muted end-of-results">End of results.</p>
      )}
      {row && selected !== null && (
        <EventDetail
          columns={result.columns}
          row={row}
          highlight={result.highlight}
          position={`${selected + 1} of ${rows.length}${result.nextCursor ? '+' : ''}`}
          onClose={close}
          onPrev={selected > 0 ? () => setSelected(selected - 1) : undefined}
          onNext={selected < rows.length - 1 ? () => setSelected(selected + 1) : undefined}
          onFilter={onFilter}
        />
      )}
    </>
  );
}
