import type { QueryExplain } from '../../api/generated/model';
import type { LoadPhase } from './searchState';
import type { QueryError } from './queryError';

interface SqlPanelProps {
  explain: QueryExplain | undefined;
  phase: LoadPhase;
  error: QueryError | undefined;
  onRetry: () => void;
}

/** The parameterized SQL the query compiled to, and its parameters ($1, $2, …). */
export function SqlPanel({ explain, phase, error, onRetry }: SqlPanelProps) {
  return (
    <section className="card sql-panel" aria-labelledby="sql-panel-title" data-testid="sql-panel">
      <header className="card-header">
        <h2 className="card-title" id="sql-panel-title">
          SQL
        </h2>
        <span className="muted">run read-only with a statement timeout</span>
      </header>
      {explain ? (
        <>
          <pre className="sql-text" data-testid="sql-text">
            {explain.sql}
          </pre>
          {explain.params.length > 0 ? (
            <table className="table table-compact sql-params" data-testid="sql-params">
              <caption className="visually-hidden">Parameters</caption>
              <thead>
                <tr>
                  <th scope="col">Parameter</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {explain.params.map((p, i) => (
                  <tr key={i}>
                    <th scope="row" className="mono">
                      ${i + 1}
                    </th>
                    <td className="mono">{p === null ? <span className="muted">NULL</span> : p}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No parameters.</p>
          )}
        </>
      ) : phase === 'error' ? (
        <p className="metric-error" role="alert">
          Could not get the SQL: {error?.message ?? 'unknown error'}{' '}
          <button type="button" className="link-button" onClick={onRetry}>
            Retry
          </button>
        </p>
      ) : (
        <p className="muted" role="status">
          Loading the SQL…
        </p>
      )}
    </section>
  );
}
