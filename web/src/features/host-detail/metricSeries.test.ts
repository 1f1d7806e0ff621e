import { describe, expect, it } from 'vitest';
import { gapForStep, meanValue, seriesByDim, toPoints } from './metricSeries';
import { pickInterfaces, MAX_INTERFACES } from './NetworkChart';

describe('metric series', () => {
  it('picks avg, min or max out of [t, avg, min, max]', () => {
    const raw = [
      [1000, 2, 1, 3],
      [2000, 5, 4, 6],
    ];
    expect(toPoints(raw)).toEqual([
      [1000, 2],
      [2000, 5],
    ]);
    expect(toPoints(raw, 'max')).toEqual([
      [1000, 3],
      [2000, 6],
    ]);
    expect(toPoints([[1000], [2000, NaN, 0, 0]])).toEqual([]);
  });

  it('makes one series per dim', () => {
    const set = {
      agent_id: 'a',
      name: 'net.rx_bytes_per_s',
      from: '',
      to: '',
      step_s: 10,
      series: [
        { dim: 'eth0', points: [[1, 10, 10, 10]] },
        { dim: 'lo', points: [] },
      ],
    };
    expect(seriesByDim(set).map((s) => [s.key, s.label, s.points.length])).toEqual([
      ['eth0', 'eth0', 1],
      ['lo', 'lo', 0],
    ]);
    expect(seriesByDim(undefined)).toEqual([]);
  });

  it('averages and sizes gaps', () => {
    expect(meanValue([])).toBe(0);
    expect(meanValue([[0, 2], [1, 4]])).toBe(3);
    expect(gapForStep(undefined)).toBe(60_000);
    expect(gapForStep(240)).toBe(720_000);
  });
});

describe('pickInterfaces', () => {
  const s = (key: string, v: number) => ({ key, label: key, points: [[0, v]] as [number, number][] });
  it('ranks by traffic and leaves out the loopback when others exist', () => {
    expect(pickInterfaces([s('lo', 1e9), s('eth0', 10), s('eth1', 20)]).map((x) => x.key)).toEqual(['eth1', 'eth0']);
  });
  it('keeps the loopback when it is all there is', () => {
    expect(pickInterfaces([s('lo', 1)]).map((x) => x.key)).toEqual(['lo']);
  });
  it('caps the number of lines', () => {
    const many = Array.from({ length: 10 }, (_, i) => s(`veth${i}`, i));
    expect(pickInterfaces(many)).toHaveLength(MAX_INTERFACES);
  });
});
