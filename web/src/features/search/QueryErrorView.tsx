import { errorSpan, type QueryError } from './queryError';

interface QueryErrorViewProps {
  id: string;
  query: string;
  error: QueryError;
  onRetry: () => void;
}

/**
 * Why a query failed. SRQL errors repeat the query with the offending span underlined (a caret
 * marks a point, e.g. the end of the query), then the message and the hint; SIMILAR_TO's
 * not_available is a notice rather than an error; anything else offers to retry.
 */
export function QueryErrorView({ id, query, error, onRetry }: QueryErrorViewProps) {
  if (error.kind === 'not_available') {
    return (
      <div className="state state-notice" id={id} role="status" data-testid="query-not-available">
        <h2 className="state-title">Not available yet</h2>
        <p className="state-text" data-testid="query-not-available-message">
          {error.message}
        </p>
        {error.hint && (
          <p className="state-text">
            <span className="srql-error-hint-label">Hint:</span> {error.hint}
          </p>
        )}
      </div>
    );
  }
  if (error.kind === 'syntax') {
    const span = errorSpan(query, error);
    return (
      <div className="state state-error" id={id} role="alert" data-testid="query-error">
        <h2 className="state-title">
          Query error{span ? <span className="srql-error-col"> at column {span.column}</span> : null}
        </h2>
        {span && (
          <pre className="srql-error-query" data-testid="query-error-query" aria-label="The query, with the error marked">
            {span.before}
            {span.span ? (
              <mark className="srql-error-span" data-testid="query-error-span">
                {span.span}
              </mark>
            ) : (
              <mark className="srql-error-caret" data-testid="query-error-span" aria-label="here">
                {' '}
              </mark>
            )}
            {span.after}
          </pre>
        )}
        <p className="state-text" data-testid="query-error-message">
          {error.message}
        </p>
        {error.hint && (
          <p className="state-text srql-error-hint" data-testid="query-error-hint">
            <span className="srql-error-hint-label">Hint:</span> {error.hint}
          </p>
        )}
      </div>
    );
  }
  return (
    <div className="state state-error" id={id} role="alert" data-testid="query-failed">
      <h2 className="state-title">The search failed</h2>
      <p className="state-text">
        {error.message}
        {error.status > 0 && <span className="muted"> (HTTP {error.status})</span>}
      </p>
      <button type="button" className="button" onClick={onRetry}>
        Retry now
      </button>
    </div>
  );
}
