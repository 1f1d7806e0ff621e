import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/http';
import { byteOffsetToIndex, errorSpan, toQueryError } from './queryError';

describe('toQueryError', () => {
  it('keeps position, length and hint of an SRQL error', () => {
    const body = { error: { code: 'bad_request', message: 'unexpected ")"', position: 12, length: 1, hint: 'a value' } };
    expect(toQueryError(new ApiError(400, 'bad_request', 'unexpected ")"', body))).toEqual({
      kind: 'syntax',
      code: 'bad_request',
      message: 'unexpected ")"',
      status: 400,
      position: 12,
      length: 1,
      hint: 'a value',
    });
  });

  it('tells SIMILAR_TO not_available apart from failures', () => {
    const body = { error: { code: 'not_available', message: 'semantic search is not available' } };
    expect(toQueryError(new ApiError(501, 'not_available', 'semantic search is not available', body)).kind).toBe(
      'not_available',
    );
    expect(toQueryError(new ApiError(503, 'unavailable', 'database down')).kind).toBe('failure');
    expect(toQueryError(new ApiError(0, 'network', 'could not reach the ServiceRadar core'))).toMatchObject({
      kind: 'failure',
      status: 0,
    });
    expect(toQueryError(new TypeError('boom'))).toMatchObject({ kind: 'failure', message: 'boom' });
  });

  it('ignores a malformed position', () => {
    const body = { error: { code: 'bad_request', message: 'bad', position: -3, length: 'x' } };
    const e = toQueryError(new ApiError(400, 'bad_request', 'bad', body));
    expect(e.position).toBeUndefined();
    expect(e.length).toBeUndefined();
  });
});

describe('byteOffsetToIndex', () => {
  it('maps UTF-8 byte offsets to string indexes', () => {
    expect(byteOffsetToIndex('abc', 2)).toBe(2);
    // "é" is 2 bytes, "€" 3, "🙂" 4 (and two UTF-16 units)
    const s = 'é€🙂x';
    expect(byteOffsetToIndex(s, 2)).toBe(1);
    expect(byteOffsetToIndex(s, 5)).toBe(2);
    expect(byteOffsetToIndex(s, 9)).toBe(4);
    expect(byteOffsetToIndex(s, 100)).toBe(5);
  });
});

describe('errorSpan', () => {
  it('cuts the query around the offending token', () => {
    expect(errorSpan('host:a AND AND b', { position: 11, length: 3 })).toEqual({
      before: 'host:a AND ',
      span: 'AND',
      after: ' b',
      column: 12,
    });
  });

  it('counts bytes, not characters, before the span', () => {
    // "ü" is 2 bytes: "OR" starts at byte 10 but is the 10th character (index 9)
    expect(errorSpan('user:"ü" OR)', { position: 10, length: 2 })).toMatchObject({
      before: 'user:"ü" ',
      span: 'OR',
      column: 10,
    });
  });

  it('gives an empty span at a point, e.g. the end of the query', () => {
    expect(errorSpan('host:(a,b', { position: 9, length: 0 })).toEqual({
      before: 'host:(a,b',
      span: '',
      after: '',
      column: 10,
    });
    expect(errorSpan('x', {})).toBeNull();
  });
});
