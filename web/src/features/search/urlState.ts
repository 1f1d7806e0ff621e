// The search page's state in its URL, so that a search can be shared and reloaded:
//   /search?q=<SRQL>&sql=1      (sql=1: the "Show SQL" panel is open)

export const SEARCH_PATH = '/search';

export interface SearchUrlState {
  query: string;
  showSql: boolean;
}

export function readSearchUrl(params: URLSearchParams): SearchUrlState {
  return { query: params.get('q') ?? '', showSql: params.get('sql') === '1' };
}

/** A copy of `params` with `patch` applied; other parameters are kept, defaults are left out. */
export function writeSearchUrl(params: URLSearchParams, patch: Partial<SearchUrlState>): URLSearchParams {
  const next = new URLSearchParams(params);
  if (patch.query !== undefined) {
    if (patch.query.trim() === '') next.delete('q');
    else next.set('q', patch.query);
  }
  if (patch.showSql !== undefined) {
    if (patch.showSql) next.set('sql', '1');
    else next.delete('sql');
  }
  return next;
}

/** A link to the search page for a query ("/search?q=..."). */
export function searchHref(query: string): string {
  const qs = writeSearchUrl(new URLSearchParams(), { query }).toString();
  return qs ? `${SEARCH_PATH}?${qs}` : SEARCH_PATH;
}
