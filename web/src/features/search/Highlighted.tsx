import { splitHighlights } from './highlight';

interface HighlightedProps {
  text: string;
  terms: readonly string[];
}

/** Text with the matched terms in <mark>; every part is a text node (no HTML from the data). */
export function Highlighted({ text, terms }: HighlightedProps) {
  return (
    <>
      {splitHighlights(text, terms).map((p, i) =>
        p.match ? (
          <mark key={i} className="hl">
            {p.text}
          </mark>
        ) : (
          <span key={i}>{p.text}</span>
        ),
      )}
    </>
  );
}
