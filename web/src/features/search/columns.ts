// Reading QueryResponse rows: values by column name, and cell text by column type.

import type { QueryColumn } from '../../api/generated/model';
import { formatDateTime } from '../../shared/format/time';

export const SEVERITIES = ['unknown', 'info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityOf(value: unknown): Severity {
  const s = typeof value === 'string' ? value.toLowerCase() : '';
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'unknown';
}

/** The value of column `name` in `row`, or undefined when the response has no such column. */
export function cell(columns: readonly QueryColumn[], row: readonly unknown[], name: string): unknown {
  const i = columns.findIndex((c) => c.name === name);
  return i < 0 ? undefined : row[i];
}

export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
}

/** Display text of one value; '' for null (the caller shows a dash). */
export function formatValue(value: unknown, type: QueryColumn['type']): string {
  if (value === null || value === undefined) return '';
  switch (type) {
    case 'timestamp':
      return typeof value === 'string' ? formatDateTime(value) : String(value);
    case 'integer':
    case 'number':
      return typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(value);
    case 'text_array':
      return Array.isArray(value) ? value.map(textOf).join(', ') : String(value);
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
    default:
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}
