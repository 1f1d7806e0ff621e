// What went wrong with a query, from the core's error envelope: SRQL errors carry the byte
// offset and length of the offending token and a hint; SIMILAR_TO answers not_available.

import { ApiError } from '../../api/http';

export type QueryErrorKind = 'syntax' | 'not_available' | 'failure';

export interface QueryError {
  kind: QueryErrorKind;
  code: string;
  message: string;
  /** HTTP status; 0 when the core could not be reached. */
  status: number;
  /** UTF-8 byte offset and length of the offending span in the query, when the core gave them. */
  position?: number;
  length?: number;
  hint?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegativeInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** Classifies any thrown value of a runQuery call. */
export function toQueryError(err: unknown): QueryError {
  if (!(err instanceof ApiError)) {
    return { kind: 'failure', code: 'unknown', message: err instanceof Error ? err.message : String(err), status: 0 };
  }
  const detail = isRecord(err.body) && isRecord(err.body.error) ? err.body.error : {};
  const hint = typeof detail.hint === 'string' && detail.hint !== '' ? detail.hint : undefined;
  const base = {
    code: err.code,
    message: err.message,
    status: err.status,
    position: nonNegativeInt(detail.position),
    length: nonNegativeInt(detail.length),
    hint,
  };
  if (err.status === 501 || err.code === 'not_available') return { kind: 'not_available', ...base };
  if (err.status === 400 && err.code === 'bad_request') return { kind: 'syntax', ...base };
  return { kind: 'failure', ...base };
}

/** UTF-16 index in `text` of a UTF-8 byte offset (clamped to the text; mid-character rounds up). */
export function byteOffsetToIndex(text: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < byteOffset) {
    const cp = text.codePointAt(i) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

export interface ErrorSpan {
  before: string;
  /** The offending text; empty when the error is at a point (e.g. the end of the query). */
  span: string;
  after: string;
  /** 1-based character column of the span's start, for the message. */
  column: number;
}

/** Cuts the query around the error's position; null when the error has no position. */
export function errorSpan(query: string, error: Pick<QueryError, 'position' | 'length'>): ErrorSpan | null {
  if (error.position === undefined) return null;
  const start = byteOffsetToIndex(query, error.position);
  const end = Math.max(start, byteOffsetToIndex(query, error.position + (error.length ?? 0)));
  return {
    before: query.slice(0, start),
    span: query.slice(start, end),
    after: query.slice(end),
    column: [...query.slice(0, start)].length + 1,
  };
}
