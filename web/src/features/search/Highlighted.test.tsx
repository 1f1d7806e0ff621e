import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Highlighted } from './Highlighted';

describe('Highlighted', () => {
  it('renders matches in <mark> and markup in the data as plain text', () => {
    const text = '<img src=x onerror=alert(1)> Terminal shell in container <b>x</b>';
    const { container } = render(
      <p>
        <Highlighted text={text} terms={['terminal shell', '<b>']} />
      </p>,
    );
    const p = container.querySelector('p')!;
    expect(p.textContent).toBe(text);
    expect(p.querySelector('img')).toBeNull();
    expect(p.querySelector('b')).toBeNull();
    expect([...p.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Terminal shell', '<b>']);
  });
});
