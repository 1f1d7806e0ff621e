import { SRQL_EXAMPLES, SRQL_FIELDS, SRQL_RULES } from './syntax';

interface SyntaxHelpProps {
  /** Puts an example in the query box and runs it. */
  onExample: (query: string) => void;
}

/** The SRQL grammar by example, and example queries that run on a click. */
export function SyntaxHelp({ onExample }: SyntaxHelpProps) {
  return (
    <section className="srql-help" id="srql-help" aria-labelledby="srql-help-title" data-testid="srql-help">
      <h2 className="section-title" id="srql-help-title">
        SRQL syntax
      </h2>
      <div className="srql-help-body">
        <table className="table table-compact srql-grammar">
          <caption className="visually-hidden">SRQL syntax</caption>
          <thead>
            <tr>
              <th scope="col">Write</th>
              <th scope="col">To find</th>
            </tr>
          </thead>
          <tbody>
            {SRQL_RULES.map((r) => (
              <tr key={r.syntax}>
                <td>
                  <code>{r.syntax}</code>
                </td>
                <td>{r.meaning}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="srql-help-side">
          <h3 className="srql-help-subtitle">Fields</h3>
          <p className="srql-help-text">{SRQL_FIELDS}</p>
          <h3 className="srql-help-subtitle">Examples</h3>
          <ul className="srql-examples">
            {SRQL_EXAMPLES.map((q) => (
              <li key={q}>
                <button type="button" className="srql-example" onClick={() => onExample(q)} title="Run this query">
                  <code>{q}</code>
                </button>
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
