import { render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { QueryErrorView } from './QueryErrorView';

describe('QueryErrorView', () => {
  it('underlines the offending span and shows the message and hint', () => {
    render(
      <QueryErrorView
        id="e"
        query='host:web AND severity:>=hihg OR "x"'
        error={{
          kind: 'syntax',
          code: 'bad_request',
          status: 400,
          message: 'unknown severity "hihg"',
          position: 24,
          length: 4,
          hint: 'one of unknown, info, low, medium, high, critical',
        }}
        onRetry={vi.fn()}
      />,
    );
    expect(screen.getByRole('alert').id).toBe('e');
    expect(screen.getByText(/at column 25/)).toBeTruthy();
    const span = screen.getByTestId('query-error-span');
    expect(span.tagName).toBe('MARK');
    expect(span.textContent).toBe('hihg');
    expect(screen.getByTestId('query-error-query').textContent).toBe('host:web AND severity:>=hihg OR "x"');
    expect(screen.getByTestId('query-error-message').textContent).toBe('unknown severity "hihg"');
    expect(screen.getByTestId('query-error-hint').textContent).toContain('one of unknown, info');
  });

  it('marks a point with a caret when the span is empty', () => {
    render(
      <QueryErrorView
        id="e"
        query="severity:(high,"
        error={{ kind: 'syntax', code: 'bad_request', status: 400, message: 'unexpected end', position: 15, length: 0 }}
        onRetry={vi.fn()}
      />,
    );
    const caret = screen.getByTestId('query-error-span');
    expect(caret.className).toBe('srql-error-caret');
    expect(screen.getByText(/at column 16/)).toBeTruthy();
    expect(screen.queryByTestId('query-error-hint')).toBeNull();
  });

  it('shows not_available as a notice, not an error', () => {
    render(
      <QueryErrorView
        id="e"
        query='SIMILAR_TO "reverse shell"'
        error={{ kind: 'not_available', code: 'not_available', status: 501, message: 'SIMILAR_TO is not available yet' }}
        onRetry={vi.fn()}
      />,
    );
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('query-not-available').textContent).toContain('SIMILAR_TO is not available yet');
  });

  it('offers a retry for other failures', () => {
    const onRetry = vi.fn();
    render(
      <QueryErrorView
        id="e"
        query="x"
        error={{ kind: 'failure', code: 'unavailable', status: 503, message: 'database unavailable' }}
        onRetry={onRetry}
      />,
    );
    screen.getByRole('button', { name: 'Retry now' }).click();
    expect(onRetry).toHaveBeenCalledOnce();
    expect(screen.getByRole('alert').textContent).toContain('HTTP 503');
  });
});
