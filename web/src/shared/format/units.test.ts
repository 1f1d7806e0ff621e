import { describe, expect, it } from 'vitest';
import { formatBytes, formatBytesPerSecond, formatInteger, formatNumber, formatPercent } from './units';

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 2)).toBe('5 MiB');
    expect(formatBytes(16_384_000_000)).toBe('15.3 GiB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3 TiB');
  });
  it('moves up a unit instead of printing 1024', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1 MiB');
  });
  it('honours digits and signs', () => {
    expect(formatBytes(25_270_000_000, 2)).toBe('23.53 GiB');
    expect(formatBytes(-2048)).toBe('-2 KiB');
  });
  it('prints a dash for non-finite values', () => {
    expect(formatBytes(NaN)).toBe('–');
    expect(formatBytes(Infinity)).toBe('–');
  });
});

describe('other formatters', () => {
  it('formats rates', () => {
    expect(formatBytesPerSecond(2_500_000)).toBe('2.4 MiB/s');
  });
  it('formats percents', () => {
    expect(formatPercent(12.345)).toBe('12.3%');
    expect(formatPercent(100)).toBe('100%');
    expect(formatPercent(7.96, 0)).toBe('8%');
  });
  it('formats numbers and integers', () => {
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(1.236)).toBe('1.24');
    expect(formatInteger(16_777_216_000)).toBe('16,777,216,000');
  });
});
