// Adding a condition to an SRQL query, for "filter on this value" in the event detail. The new
// term is ANDed with the whole filter: before the first pipe, after a top-level OR only with the
// filter in parentheses (with its directives — in:, sort:, limit:, stats: — kept outside them,
// where SRQL requires them).

const DIRECTIVE = /^(in|sort|limit|stats):/i;
const DOTTED_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;

/** "text" with SRQL's escapes (\" and \\). */
export function srqlQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * `name:value` for a value of the event, or null when SRQL cannot compare it: text is quoted
 * (exact match), numbers are written bare, severities as their name.
 */
export function fieldTerm(name: string, value: unknown, type?: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !(DOTTED_KEY.test(name) && name.length <= 128)) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? `${name}:${value}` : null;
  if (typeof value !== 'string' || value === '') return null;
  if (type === 'severity') return /^[a-z]+$/.test(value) ? `${name}:${value}` : null;
  return `${name}:${srqlQuote(value)}`;
}

interface Split {
  /** Top-level tokens of the filter part (outside quotes and parentheses). */
  tokens: string[];
  /** From the first top-level pipe on ("| stats ..."), or ''. */
  pipes: string;
}

/** Splits the part before the first pipe into whitespace-separated top-level tokens. */
function split(query: string): Split {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < query.length) cur += query[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === '|' && depth === 0) {
      if (cur) tokens.push(cur);
      return { tokens, pipes: query.slice(i) };
    } else if (/\s/.test(c) && depth === 0) {
      if (cur) tokens.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) tokens.push(cur);
  return { tokens, pipes: '' };
}

/** The query with `term` (or NOT term) ANDed to its filter. */
export function addCondition(query: string, term: string, negate = false): string {
  const cond = negate ? `NOT ${term}` : term;
  const { tokens, pipes } = split(query.trim());
  const directives = tokens.filter((t) => DIRECTIVE.test(t));
  const filter = tokens.filter((t) => !DIRECTIVE.test(t));
  let expr: string;
  if (filter.length === 0) expr = cond;
  else if (filter.includes('OR')) expr = `(${filter.join(' ')}) AND ${cond}`;
  else expr = `${filter.join(' ')} AND ${cond}`;
  return [expr, ...directives, pipes].filter(Boolean).join(' ');
}
