interface MetricErrorProps {
  error: Error | undefined;
}

/** A one-line note under a chart when its last refresh failed. */
export function MetricError({ error }: MetricErrorProps) {
  if (!error) return null;
  return (
    <p className="metric-error" role="alert">
      Could not refresh: {error.message}
    </p>
  );
}
