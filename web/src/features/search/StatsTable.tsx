import type { QueryColumn } from '../../api/generated/model';
import { formatValue } from './columns';

interface StatsTableProps {
  columns: readonly QueryColumn[];
  rows: readonly (readonly unknown[])[];
}

function numeric(type: QueryColumn['type']): boolean {
  return type === 'integer' || type === 'number';
}

/** Aggregated rows (kind=stats): one column per result column, numbers right-aligned. */
export function StatsTable({ columns, rows }: StatsTableProps) {
  return (
    <div className="table-wrap">
      <table className="table stats-table" data-testid="stats-table">
        <caption className="visually-hidden">Aggregated results</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.name} scope="col" className={numeric(c.type) ? 'num' : undefined}>
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i} data-testid="stats-row">
              {columns.map((c, j) => {
                const text = formatValue(row[j], c.type);
                return (
                  <td key={c.name} className={numeric(c.type) ? 'num' : c.type === 'text' ? undefined : 'mono'}>
                    {text === '' ? <span className="muted">–</span> : text}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
