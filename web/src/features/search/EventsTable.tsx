import type { QueryColumn } from '../../api/generated/model';
import { formatDateTime } from '../../shared/format/time';
import { cell, textOf } from './columns';
import { Highlighted } from './Highlighted';
import { SeverityBadge } from './SeverityBadge';

interface EventsTableProps {
  columns: readonly QueryColumn[];
  rows: readonly (readonly unknown[])[];
  highlight: readonly string[];
  selected: number | null;
  onSelect: (index: number) => void;
}

function Dash() {
  return <span className="muted">–</span>;
}

/** Matching events, newest first as the core sorted them; a row (or its time button) opens the event. */
export function EventsTable({ columns, rows, highlight, selected, onSelect }: EventsTableProps) {
  return (
    <div className="table-wrap">
      <table className="table events-table" data-testid="events-table">
        <caption className="visually-hidden">Matching events</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Severity</th>
            <th scope="col">Host</th>
            <th scope="col">Type</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const time = textOf(cell(columns, row, 'time'));
            const id = textOf(cell(columns, row, 'id'));
            const host = textOf(cell(columns, row, 'host'));
            const type = textOf(cell(columns, row, 'source_type'));
            const message = textOf(cell(columns, row, 'message'));
            const isSelected = selected === i;
            return (
              <tr
                key={`${i}:${id}`}
                className={`row-link${isSelected ? ' row-selected' : ''}`}
                data-testid="event-row"
                data-event-id={id}
                aria-current={isSelected ? 'true' : undefined}
                onClick={(e) => {
                  if ((e.target as HTMLElement).closest('button')) return;
                  onSelect(i);
                }}
              >
                <td className="mono event-time">
                  <button
                    type="button"
                    className="link-button"
                    data-testid="event-open"
                    aria-label={`Show event of ${formatDateTime(time)}${host ? ` on ${host}` : ''}`}
                    onClick={() => onSelect(i)}
                  >
                    <time dateTime={time} title={time}>
                      {formatDateTime(time)}
                    </time>
                  </button>
                </td>
                <td>
                  <SeverityBadge
                    severity={cell(columns, row, 'severity')}
                    sourceText={textOf(cell(columns, row, 'severity_text'))}
                  />
                </td>
                <td className="event-host">{host || <Dash />}</td>
                <td className="mono">{type || <Dash />}</td>
                <td className="event-message" data-testid="event-message" title={message}>
                  <span className="event-message-text">
                    <Highlighted text={message} terms={highlight} />
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
