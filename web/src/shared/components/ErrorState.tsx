interface ErrorStateProps {
  title: string;
  error: Error;
  onRetry?: () => void;
}

/** A failed load, said plainly, with the reason and a retry button. */
export function ErrorState({ title, error, onRetry }: ErrorStateProps) {
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <h2 className="state-title">{title}</h2>
      <p className="state-text">{error.message}</p>
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          Retry now
        </button>
      )}
    </div>
  );
}
