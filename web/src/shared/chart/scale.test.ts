import { describe, expect, it } from 'vitest';
import { linePath, linearScale, niceStep, niceTicks, timeExtent, timeTicks, valueExtent, type Point } from './scale';

describe('linearScale', () => {
  it('maps domain onto range, inverted for SVG y', () => {
    const y = linearScale(0, 100, 200, 0);
    expect(y(0)).toBe(200);
    expect(y(50)).toBe(100);
    expect(y(100)).toBe(0);
  });
  it('maps a zero-width domain to the middle', () => {
    expect(linearScale(5, 5, 0, 10)(5)).toBe(5);
  });
});

describe('extents', () => {
  const a: Point[] = [
    [1000, 3],
    [2000, NaN],
    [3000, -1],
  ];
  const b: Point[] = [[500, 10]];
  it('covers every series and skips non-finite values', () => {
    expect(valueExtent([a, b])).toEqual({ min: -1, max: 10 });
    expect(timeExtent([a, b])).toEqual({ min: 500, max: 3000 });
  });
  it('is null when empty', () => {
    expect(valueExtent([[], []])).toBeNull();
    expect(timeExtent([])).toBeNull();
  });
});

describe('niceTicks', () => {
  it('uses 1/2/2.5/5 steps', () => {
    expect(niceStep(100, 4)).toBe(25);
    expect(niceStep(7, 4)).toBe(2);
    expect(niceStep(0.3, 3)).toBeCloseTo(0.1);
  });
  it('pins percent charts to 0..100', () => {
    expect(niceTicks({ min: 12, max: 40 }, { floor: 0, ceil: 100 })).toEqual({
      min: 0,
      max: 100,
      ticks: [0, 25, 50, 75, 100],
    });
  });
  it('widens to whole steps', () => {
    const t = niceTicks({ min: 0.13, max: 1.92 }, { floor: 0 });
    expect(t.min).toBe(0);
    expect(t.max).toBe(2);
    expect(t.ticks).toEqual([0, 0.5, 1, 1.5, 2]);
  });
  it('uses power-of-two steps for bytes', () => {
    const gib = 1024 ** 3;
    const t = niceTicks({ min: 8 * gib, max: 23.5 * gib }, { floor: 0, bytes: true });
    expect(t.ticks).toEqual([0, 8 * gib, 16 * gib, 24 * gib]);
  });
  it('gives a flat or empty series a usable domain', () => {
    expect(niceTicks(null).ticks.length).toBeGreaterThan(1);
    const flat = niceTicks({ min: 42, max: 42 });
    expect(flat.min).toBeLessThanOrEqual(0);
    expect(flat.max).toBeGreaterThanOrEqual(42);
  });
});

describe('timeTicks', () => {
  it('lands on whole local minutes inside the range', () => {
    const t0 = new Date(2026, 0, 1, 10, 3, 17).getTime();
    const ticks = timeTicks(t0, t0 + 15 * 60_000, 5);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks.length).toBeLessThanOrEqual(5);
    for (const t of ticks) {
      expect(t).toBeGreaterThanOrEqual(t0);
      expect(new Date(t).getSeconds()).toBe(0);
      expect(new Date(t).getMinutes() % 5).toBe(0);
    }
  });
});

describe('linePath', () => {
  const id = (v: number) => v;
  it('joins points and breaks at gaps and non-finite values', () => {
    const pts: Point[] = [
      [0, 1],
      [10, 2],
      [100, 3],
      [110, NaN],
      [120, 4],
    ];
    expect(linePath(pts, id, id, 50)).toBe('M0.0,1.0 L10.0,2.0 M100.0,3.0 M120.0,4.0');
  });
  it('is empty without points', () => {
    expect(linePath([], id, id)).toBe('');
  });
});

describe('niceTicks on a flat zero byte series', () => {
  it('spans a kibibyte so that tick labels stay distinct', () => {
    const t = niceTicks({ min: 0, max: 0 }, { bytes: true, floor: 0 });
    expect(t.min).toBe(0);
    expect(t.max).toBeGreaterThanOrEqual(1024);
    expect(t.ticks.length).toBeGreaterThanOrEqual(3);
    expect(t.ticks.every((v) => Number.isInteger(v))).toBe(true); // whole bytes: distinct labels
  });
});
