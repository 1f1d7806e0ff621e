import { describe, expect, it } from 'vitest';
import { matchRanges, splitHighlights, termPattern } from './highlight';

function marked(text: string, terms: string[]): string {
  return splitHighlights(text, terms)
    .map((p) => (p.match ? `[${p.text}]` : p.text))
    .join('');
}

describe('splitHighlights', () => {
  it('marks every occurrence, ignoring case, and keeps the text intact', () => {
    const text = 'Failed password for root; FAILED PASSWORD again';
    const parts = splitHighlights(text, ['failed password']);
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(marked(text, ['failed password'])).toBe('[Failed password] for root; [FAILED PASSWORD] again');
  });

  it('merges overlapping and adjacent matches of different terms', () => {
    expect(marked('a shell was spawned in a container', ['shell was', 'was spawned'])).toBe(
      'a [shell was spawned] in a container',
    );
    expect(marked('from 10.0.0.1:22 in', ['10.0.0.1', ':22'])).toBe('from [10.0.0.1:22] in');
    expect(matchRanges('terminal shell in container', ['shell', 'terminal shell'])).toEqual([[0, 14]]);
  });

  it('matches whole words, as the core tokenizes them', () => {
    expect(marked('A shell in ^helper.RunShell$ terminal=34816 shells', ['shell', 'terminal'])).toBe(
      'A [shell] in ^helper.RunShell$ [terminal]=34816 shells',
    );
    expect(marked('pam_unix(sshd:auth): authentication failure; user=root', ['unix', 'root'])).toBe(
      'pam_[unix](sshd:auth): authentication failure; user=[root]',
    );
  });

  it('lets the words of a phrase be separated by any punctuation', () => {
    expect(marked('Authentication:  FAILURE and authentication failure', ['authentication failure'])).toBe(
      '[Authentication:  FAILURE] and [authentication failure]',
    );
    expect(marked('authentication failures', ['authentication failure'])).toBe('authentication failures');
  });

  it('treats regular expression characters literally', () => {
    expect(marked('cmdline=sh -c clear; (bash || ash || sh)', ['(bash || ash'])).toBe(
      'cmdline=sh -c clear; [(bash || ash] || sh)',
    );
    expect(marked('10.0.0.1 and 10x0y0z1', ['10.0.0.1'])).toBe('[10.0.0.1] and 10x0y0z1');
  });

  it('expands * to a run of non-space characters', () => {
    expect(marked('user admin logged in; user adm2 too', ['adm*'])).toBe('user [admin] logged in; user [adm2] too');
    expect(marked('path /usr/bin/evil', ['*bin*'])).toBe('path [/usr/bin/evil]');
    expect(termPattern('*')).toBeNull();
    expect(termPattern('  ')).toBeNull();
  });

  it('handles no terms, no matches, empty text and non-ASCII text', () => {
    expect(splitHighlights('nothing here', [])).toEqual([{ text: 'nothing here', match: false }]);
    expect(splitHighlights('nothing here', ['absent'])).toEqual([{ text: 'nothing here', match: false }]);
    expect(splitHighlights('', ['x'])).toEqual([]);
    expect(marked('Größe ÜBER alles 🙂 über', ['über'])).toBe('Größe [ÜBER] alles 🙂 [über]');
  });
});
