import { describe, expect, it } from 'vitest';
import { lastValue, pointCount, valueAt } from './series';

describe('series helpers', () => {
  it('counts points over all series', () => {
    expect(pointCount([])).toBe(0);
    expect(
      pointCount([
        { key: 'a', label: 'a', points: [[1, 1]] },
        { key: 'b', label: 'b', points: [[1, 1], [2, 2]] },
      ]),
    ).toBe(3);
  });
  it('finds the newest finite value', () => {
    expect(lastValue([[1, 5], [2, 7], [3, NaN]])).toBe(7);
    expect(lastValue([])).toBeUndefined();
  });
  it('finds the nearest point in time', () => {
    const pts = [
      [0, 0],
      [10, 1],
      [20, 2],
    ] as const;
    expect(valueAt(pts, -5)?.[1]).toBe(0);
    expect(valueAt(pts, 14)?.[1]).toBe(1);
    expect(valueAt(pts, 16)?.[1]).toBe(2);
    expect(valueAt(pts, 99)?.[1]).toBe(2);
    expect(valueAt([], 1)).toBeUndefined();
  });
});
