interface FilterButtonsProps {
  /** The SRQL term, e.g. host:"web-01". */
  term: string;
  onFilter: (term: string, negate: boolean) => void;
}

/** "Only this value" and "everything but this value" for one value of an event. */
export function FilterButtons({ term, onFilter }: FilterButtonsProps) {
  return (
    <span className="filter-buttons">
      <button
        type="button"
        className="icon-button"
        aria-label={`Filter on ${term}`}
        title={`Search with ${term}`}
        onClick={() => onFilter(term, false)}
      >
        +
      </button>
      <button
        type="button"
        className="icon-button"
        aria-label={`Exclude ${term}`}
        title={`Search with NOT ${term}`}
        onClick={() => onFilter(term, true)}
      >
        −
      </button>
    </span>
  );
}
