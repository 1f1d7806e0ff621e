import type { SearchResult } from './searchState';

interface ResultSummaryProps {
  result: SearchResult;
}

function ms(v: number): string {
  return `${v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 1 : 0 })} ms`;
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "10 of 26 matching events, more to load · 4 ms": rows shown, the histogram's total, timing. */
export function ResultSummary({ result }: ResultSummaryProps) {
  const n = result.rows.length;
  const total = result.histogram?.buckets.reduce((sum, b) => sum + b.count, 0);
  const what =
    result.kind === 'events'
      ? total !== undefined && total > n
        ? `${n.toLocaleString('en-US')} of ${plural(total, 'matching event', 'matching events')}`
        : plural(n, 'event', 'events')
      : plural(n, 'row', 'rows');
  const elapsed =
    result.pages > 1
      ? `${ms(result.elapsedMs)} for the last page, ${ms(result.totalElapsedMs)} in all`
      : ms(result.elapsedMs);
  return (
    <p
      className="search-summary"
      aria-live="polite"
      data-testid="search-summary"
      data-rows={n}
      data-elapsed-ms={result.elapsedMs}
      data-more={result.nextCursor ? 'true' : 'false'}
    >
      <strong>{what}</strong>
      {result.nextCursor ? ', more to load' : ''} <span className="muted">· {elapsed}</span>
    </p>
  );
}
