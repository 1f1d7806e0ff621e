import { useEffect, useRef, type FormEvent } from 'react';

interface SearchBarProps {
  value: string;
  onChange: (value: string) => void;
  /** Runs the query in the box (Enter, or the Search button). */
  onSubmit: () => void;
  busy: boolean;
  helpOpen: boolean;
  onToggleHelp: () => void;
  /** id of the element that describes an error in the query (sets aria-invalid). */
  errorId?: string;
}

/** Editable target: typing "/" there is text, not the shortcut. */
function isTyping(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}

/** The SRQL query box. Enter runs the query; "/" anywhere on the page puts the cursor in the box. */
export function SearchBar({ value, onChange, onSubmit, busy, helpOpen, onToggleHelp, errorId }: SearchBarProps) {
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      e.preventDefault();
      inputRef.current?.focus();
      inputRef.current?.select();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };

  return (
    <form className="srql-bar" role="search" onSubmit={submit}>
      <label htmlFor="srql-input" className="visually-hidden">
        SRQL query
      </label>
      <input
        ref={inputRef}
        id="srql-input"
        className="srql-input"
        type="text"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder='Search events: type:falco_alert AND severity:>=high, "Failed password" | stats count() by src_ip'
        spellCheck={false}
        autoComplete="off"
        autoCapitalize="off"
        autoCorrect="off"
        maxLength={8192}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={errorId ? `srql-shortcut ${errorId}` : 'srql-shortcut'}
        data-testid="srql-input"
      />
      <span id="srql-shortcut" className="visually-hidden">
        Press Enter to search. Press slash anywhere on the page to return to this box.
      </span>
      <button type="submit" className="button" aria-busy={busy}>
        Search
      </button>
      <button
        type="button"
        className="button button-secondary"
        aria-expanded={helpOpen}
        aria-controls="srql-help"
        onClick={onToggleHelp}
      >
        Syntax help
      </button>
    </form>
  );
}
