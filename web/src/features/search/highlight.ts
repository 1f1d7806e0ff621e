// Splits a message into plain and highlighted parts for the terms the core says matched
// (QueryResponse.highlight), the way the core's tokenizer matches them: case-insensitive, whole
// words (a term that starts or ends with a letter or digit does not match inside a longer word:
// "shell" marks "A shell was" and "terminal=shell" but not "RunShell"), the words of a phrase
// separated by any punctuation or space ("authentication failure" also marks
// "authentication: failure"), and "*" as any run of non-space characters (SRQL wildcards).
// Overlapping matches of different terms merge. Pure: the parts are rendered as text nodes.

export interface TextPart {
  text: string;
  match: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const WORD_CHAR = '[\\p{L}\\p{N}]';
const SEPARATORS = '[^\\p{L}\\p{N}]+';

function wordPattern(word: string): string {
  return word.split('*').map(escapeRegExp).join('\\S*');
}

/** A case-insensitive pattern for one term, or null for a term that would match nothing useful. */
export function termPattern(term: string): RegExp | null {
  const t = term.trim();
  if (t.replace(/\*/g, '').trim() === '') return null;
  const body = t.split(/\s+/).map(wordPattern).join(SEPARATORS);
  const start = /^[\p{L}\p{N}]/u.test(t) ? `(?<!${WORD_CHAR})` : '';
  const end = /[\p{L}\p{N}]$/u.test(t) ? `(?!${WORD_CHAR})` : '';
  return new RegExp(`${start}${body}${end}`, 'giu');
}

/** The [start, end) ranges of every term in `text`, sorted and merged where they overlap or touch. */
export function matchRanges(text: string, terms: readonly string[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const term of new Set(terms)) {
    const re = termPattern(term);
    if (!re) continue;
    for (const m of text.matchAll(re)) {
      if (m[0].length > 0) ranges.push([m.index, m.index + m[0].length]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** The text cut into parts; joined back they are exactly `text`. */
export function splitHighlights(text: string, terms: readonly string[]): TextPart[] {
  if (text === '') return [];
  const parts: TextPart[] = [];
  let at = 0;
  for (const [s, e] of matchRanges(text, terms)) {
    if (s > at) parts.push({ text: text.slice(at, s), match: false });
    parts.push({ text: text.slice(s, e), match: true });
    at = e;
  }
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts;
}
