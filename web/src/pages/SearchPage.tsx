import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { addCondition } from '../features/search/queryEdit';
import { QueryErrorView } from '../features/search/QueryErrorView';
import { ResultSummary } from '../features/search/ResultSummary';
import { SearchBar } from '../features/search/SearchBar';
import { SearchResults } from '../features/search/SearchResults';
import { SqlPanel } from '../features/search/SqlPanel';
import { SyntaxHelp } from '../features/search/SyntaxHelp';
import { readSearchUrl, writeSearchUrl } from '../features/search/urlState';
import { useSearch } from '../features/search/useSearch';
import { LoadingState } from '../shared/components/LoadingState';
import { usePageTitle } from '../shared/hooks/usePageTitle';

const ERROR_ID = 'srql-error';

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const { query, showSql } = readSearchUrl(params);
  const [draft, setDraft] = useState(query);
  const [runKey, setRunKey] = useState(0);
  const [helpOpen, setHelpOpen] = useState(query === '');
  const { state, loadMore, retryExplain } = useSearch(query, runKey, showSql);
  usePageTitle(query ? `Search: ${query}` : 'Search');

  // The box follows the URL when it changes from outside (back, forward, a shared link).
  useEffect(() => setDraft(query), [query]);

  const run = (q: string) => {
    const next = q.trim();
    setDraft(next);
    setHelpOpen(false); // the results take its place; the button opens it again
    if (next === query) setRunKey((k) => k + 1);
    else setParams((p) => writeSearchUrl(p, { query: next }));
  };
  const toggleSql = () => setParams((p) => writeSearchUrl(p, { showSql: !showSql }), { replace: true });

  const result = state.result;
  const queryError = state.status === 'error' && state.error?.kind === 'syntax';
  return (
    <main className="page page-search" id="main">
      <header className="page-header">
        <h1 className="page-title">Search</h1>
        <p className="page-subtitle">Events and alerts, in SRQL</p>
      </header>
      <SearchBar
        value={draft}
        onChange={setDraft}
        onSubmit={() => run(draft)}
        busy={state.status === 'loading'}
        helpOpen={helpOpen}
        onToggleHelp={() => setHelpOpen((o) => !o)}
        errorId={queryError ? ERROR_ID : undefined}
      />
      {helpOpen && (
        <SyntaxHelp onExample={run} />
      )}
      {state.status === 'idle' && !helpOpen && (
        <p className="muted search-intro">Type a query and press Enter. Press / to jump to the search box.</p>
      )}
      {state.status === 'loading' && <LoadingState label="Searching…" />}
      {state.status === 'error' && state.error && (
        <QueryErrorView id={ERROR_ID} query={state.query} error={state.error} onRetry={() => run(query)} />
      )}
      {result && (
        <>
          <div className="search-toolbar">
            <ResultSummary result={result} />
            <button
              type="button"
              className="button button-secondary"
              aria-pressed={showSql}
              onClick={toggleSql}
              data-testid="toggle-sql"
            >
              Show SQL
            </button>
          </div>
          {showSql && (
            <SqlPanel
              explain={result.explain}
              phase={state.explainPhase}
              error={state.explainError}
              onRetry={retryExplain}
            />
          )}
          <SearchResults
            state={state}
            loadMore={loadMore}
            onFilter={(term, negate) => run(addCondition(state.query, term, negate))}
          />
        </>
      )}
    </main>
  );
}
