import { describe, expect, it } from 'vitest';
import { addCondition, fieldTerm, srqlQuote } from './queryEdit';

describe('fieldTerm', () => {
  it('quotes text, writes numbers and severities bare', () => {
    expect(fieldTerm('host', 'minikube')).toBe('host:"minikube"');
    expect(fieldTerm('proc.cmdline', 'sh -c "x" \\ y')).toBe('proc.cmdline:"sh -c \\"x\\" \\\\ y"');
    expect(fieldTerm('proc.tty', 34816)).toBe('proc.tty:34816');
    expect(fieldTerm('user.loginuid', -1)).toBe('user.loginuid:-1');
    expect(fieldTerm('severity', 'high', 'severity')).toBe('severity:high');
    expect(srqlQuote('a"b')).toBe('"a\\"b"');
  });

  it('refuses what SRQL cannot compare', () => {
    expect(fieldTerm('host', '')).toBeNull();
    expect(fieldTerm('host', null)).toBeNull();
    expect(fieldTerm('fields', { a: 1 })).toBeNull();
    expect(fieldTerm('proc.args', ['a'])).toBeNull();
    expect(fieldTerm('flag.ok', true)).toBeNull();
    expect(fieldTerm('key with space', 'x')).toBeNull();
    expect(fieldTerm('a..b', 'x')).toBeNull();
  });
});

describe('addCondition', () => {
  it('starts a query or ANDs the term to it', () => {
    expect(addCondition('', 'host:"a"')).toBe('host:"a"');
    expect(addCondition('type:falco_alert', 'host:"a"')).toBe('type:falco_alert AND host:"a"');
    expect(addCondition('type:falco_alert', 'host:"a"', true)).toBe('type:falco_alert AND NOT host:"a"');
  });

  it('keeps pipes after the filter', () => {
    expect(addCondition('"Failed password" | stats count() by src_ip | head 10', 'host:"a"')).toBe(
      '"Failed password" AND host:"a" | stats count() by src_ip | head 10',
    );
    expect(addCondition('rule:"a | b" | head 5', 'pid:1')).toBe('rule:"a | b" AND pid:1 | head 5');
  });

  it('puts a filter with a top-level OR in parentheses, leaving directives outside', () => {
    expect(addCondition('a OR b limit:10 sort:time:asc', 'host:"x"')).toBe(
      '(a OR b) AND host:"x" limit:10 sort:time:asc',
    );
    expect(addCondition('(a OR b) c', 'host:"x"')).toBe('(a OR b) c AND host:"x"');
    expect(addCondition('msg:"x OR y" limit:5', 'pid:2')).toBe('msg:"x OR y" AND pid:2 limit:5');
    expect(addCondition('limit:10', 'pid:2')).toBe('pid:2 limit:10');
  });
});
