import { useEffect, useRef } from 'react';
import type { QueryColumn } from '../../api/generated/model';
import { formatDateTime } from '../../shared/format/time';
import { formatValue, textOf } from './columns';
import { FilterButtons } from './FilterButtons';
import { Highlighted } from './Highlighted';
import { fieldTerm } from './queryEdit';
import { SeverityBadge } from './SeverityBadge';

interface EventDetailProps {
  columns: readonly QueryColumn[];
  row: readonly unknown[];
  highlight: readonly string[];
  /** "3 of 120" */
  position: string;
  onClose: () => void;
  onPrev?: () => void;
  onNext?: () => void;
  /** Runs the current query with one more condition (term, or NOT term when negate). */
  onFilter?: (term: string, negate: boolean) => void;
}

function isEditable(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}

/** Columns whose value makes a useful condition. */
const FILTERABLE = new Set([
  'host',
  'agent_id',
  'source_type',
  'severity',
  'severity_text',
  'program',
  'pid',
  'user_name',
  'src_ip',
  'outcome',
  'action',
  'rule',
]);

interface ValueProps {
  column: QueryColumn;
  value: unknown;
  highlight: readonly string[];
  onFilter?: (term: string, negate: boolean) => void;
}

function FieldsTable({ name, value, onFilter }: { name: string; value: object; onFilter?: ValueProps['onFilter'] }) {
  const entries = Object.entries(value).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (entries.length === 0) return <span className="muted">none</span>;
  return (
    <table className="table table-compact detail-fields" data-testid={`detail-${name}`}>
      <caption className="visually-hidden">{name}</caption>
      <tbody>
        {entries.map(([k, v]) => {
          const term = onFilter ? fieldTerm(k, v) : null;
          return (
            <tr key={k}>
              <th scope="row" className="mono">
                {k}
              </th>
              <td className="mono">
                <span className="detail-value">{typeof v === 'string' ? v : JSON.stringify(v)}</span>
                {term && onFilter && <FilterButtons term={term} onFilter={onFilter} />}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Value({ column, value, highlight, onFilter }: ValueProps) {
  if (value === null || value === undefined || value === '') return <span className="muted">–</span>;
  if (column.name === 'message') {
    return (
      <span className="detail-message" data-testid="detail-message">
        <Highlighted text={textOf(value)} terms={highlight} />
      </span>
    );
  }
  switch (column.type) {
    case 'severity':
      return <SeverityBadge severity={value} />;
    case 'timestamp':
      return (
        <time dateTime={textOf(value)}>
          <span className="mono">{textOf(value)}</span>{' '}
          <span className="muted">({formatDateTime(textOf(value))} local)</span>
        </time>
      );
    case 'text_array':
      return Array.isArray(value) && value.length > 0 ? (
        <ul className="chips">
          {value.map((v, i) => (
            <li key={i} className="chip">
              {textOf(v)}
            </li>
          ))}
        </ul>
      ) : (
        <span className="muted">none</span>
      );
    case 'json':
      return typeof value === 'object' && !Array.isArray(value) ? (
        <FieldsTable name={column.name} value={value} onFilter={onFilter} />
      ) : (
        <code className="detail-json">{JSON.stringify(value)}</code>
      );
    default:
      return <span className={column.type === 'text' ? undefined : 'mono'}>{formatValue(value, column.type)}</span>;
  }
}

/**
 * Every column of one event, the fields object as a key/value table, with buttons that add a
 * value to the query (+) or exclude it (−). A side panel: j / k step to the next / previous
 * event, Escape or Close shuts it; focus moves into it when it opens and back to the table when
 * it closes.
 */
export function EventDetail(props: EventDetailProps) {
  const { columns, row, highlight, position, onClose, onPrev, onNext, onFilter } = props;
  const headingRef = useRef<HTMLHeadingElement>(null);
  const eventId = textOf(row[columns.findIndex((c) => c.name === 'id')]);

  useEffect(() => {
    headingRef.current?.focus();
  }, [eventId]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') return onClose();
      if (e.ctrlKey || e.metaKey || e.altKey || isEditable(e.target)) return;
      if (e.key === 'j') onNext?.();
      else if (e.key === 'k') onPrev?.();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose, onNext, onPrev]);

  return (
    <aside
      className="drawer"
      role="dialog"
      aria-modal="false"
      aria-labelledby="event-detail-title"
      data-testid="event-detail"
    >
      <header className="drawer-header">
        <h2 className="section-title" id="event-detail-title" tabIndex={-1} ref={headingRef}>
          Event <span className="muted drawer-position">{position}</span>
        </h2>
        <div className="drawer-actions">
          <button
            type="button"
            className="button button-secondary"
            onClick={onPrev}
            disabled={!onPrev}
            aria-label="Previous event"
            aria-keyshortcuts="k"
            title="Previous event (k)"
          >
            ↑
          </button>
          <button
            type="button"
            className="button button-secondary"
            onClick={onNext}
            disabled={!onNext}
            aria-label="Next event"
            aria-keyshortcuts="j"
            title="Next event (j)"
          >
            ↓
          </button>
          <button
            type="button"
            className="button button-secondary"
            onClick={onClose}
            aria-keyshortcuts="Escape"
            title="Close (Esc)"
          >
            Close
          </button>
        </div>
      </header>
      <dl className="detail-list">
        {columns.map((c, i) => {
          const term = onFilter && FILTERABLE.has(c.name) ? fieldTerm(c.name, row[i], c.type) : null;
          return (
            <div key={c.name} className="detail-item" data-column={c.name}>
              <dt>{c.name}</dt>
              <dd>
                <Value column={c} value={row[i]} highlight={highlight} onFilter={onFilter} />
                {term && onFilter && <FilterButtons term={term} onFilter={onFilter} />}
              </dd>
            </div>
          );
        })}
      </dl>
    </aside>
  );
}
