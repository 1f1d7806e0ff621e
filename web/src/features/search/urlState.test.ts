import { describe, expect, it } from 'vitest';
import { readSearchUrl, searchHref, writeSearchUrl } from './urlState';

describe('search URL state', () => {
  it('reads the query and the SQL toggle', () => {
    expect(readSearchUrl(new URLSearchParams('q=host%3Aa+AND+%22x+y%22&sql=1'))).toEqual({
      query: 'host:a AND "x y"',
      showSql: true,
    });
    expect(readSearchUrl(new URLSearchParams(''))).toEqual({ query: '', showSql: false });
  });

  it('round-trips a query with SRQL punctuation', () => {
    const q = '"Failed password" | stats count() by src_ip | sort count desc | head 10 & more=1#x';
    const params = writeSearchUrl(new URLSearchParams('other=keep'), { query: q, showSql: true });
    const again = new URLSearchParams(params.toString());
    expect(readSearchUrl(again)).toEqual({ query: q, showSql: true });
    expect(again.get('other')).toBe('keep');
  });

  it('leaves defaults out of the URL', () => {
    const params = writeSearchUrl(new URLSearchParams('q=x&sql=1'), { query: '  ', showSql: false });
    expect(params.toString()).toBe('');
    expect(searchHref('')).toBe('/search');
    expect(searchHref('rule:"Terminal shell in container"')).toBe(
      '/search?q=rule%3A%22Terminal+shell+in+container%22',
    );
  });
});
