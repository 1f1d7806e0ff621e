// Query responses shaped like the core's, for the search feature's unit tests.

import type { QueryColumn, QueryResponse } from '../../api/generated/model';

export const EVENT_COLUMNS: QueryColumn[] = [
  { name: 'time', type: 'timestamp' },
  { name: 'id', type: 'text' },
  { name: 'host', type: 'text' },
  { name: 'source_type', type: 'text' },
  { name: 'severity', type: 'severity' },
  { name: 'severity_text', type: 'text' },
  { name: 'rule', type: 'text' },
  { name: 'message', type: 'text' },
  { name: 'fields', type: 'json' },
  { name: 'tags', type: 'text_array' },
];

export function eventRow(n: number, message = `event ${n}`): unknown[] {
  return [
    `2024-05-07T18:54:${String(n % 60).padStart(2, '0')}.123456789Z`,
    `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    `host-${n}`,
    'falco_alert',
    n % 2 ? 'high' : 'medium',
    n % 2 ? 'Warning' : 'Notice',
    'Terminal shell in container',
    message,
    { 'k8s.ns.name': 'default', 'proc.cmdline': 'sh -c clear', 'proc.tty': 34816 },
    ['container', 'shell'],
  ];
}

export function eventsPage(
  from: number,
  count: number,
  nextCursor: string | null,
  extra: Partial<QueryResponse> = {},
): QueryResponse {
  return {
    kind: 'events',
    columns: EVENT_COLUMNS,
    rows: Array.from({ length: count }, (_, i) => eventRow(from + i)),
    next_cursor: nextCursor,
    elapsed_ms: 3,
    highlight: ['shell'],
    ...extra,
  };
}
