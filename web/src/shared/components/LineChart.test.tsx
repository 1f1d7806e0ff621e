import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { LineChart } from './LineChart';

describe('LineChart', () => {
  it('reports what it plots in data attributes', () => {
    render(
      <LineChart
        testId="chart-x"
        label="X"
        from={0}
        to={60_000}
        formatValue={String}
        series={[
          { key: 'a', label: 'A', points: [[0, 1], [30_000, 2], [60_000, 42]] },
          { key: 'b', label: 'B', points: [[0, 7]] },
        ]}
      />,
    );
    const chart = screen.getByTestId('chart-x');
    expect(chart.dataset.points).toBe('4');
    expect(chart.dataset.last).toBe('42');
    expect(chart.dataset.series).toBe('2');
    expect(chart.querySelectorAll('path.chart-line')).toHaveLength(2);
    expect(screen.getByRole('img', { name: /X: A 42, B 7/ })).toBeTruthy();
  });

  it('says when there is no data and uses no inline styles', () => {
    const { container } = render(
      <LineChart testId="chart-y" label="Y" from={0} to={1000} formatValue={String} series={[]} />,
    );
    const chart = screen.getByTestId('chart-y');
    expect(chart.dataset.points).toBe('0');
    expect(chart.dataset.last).toBe('');
    expect(screen.getByText('No data in this range')).toBeTruthy();
    expect(container.querySelector('[style]')).toBeNull();
  });
});
