import { useReadiness } from './useReadiness';

/** A small indicator of the core's readiness for the top bar. */
export function CoreStatus() {
  const { data, error } = useReadiness();
  let tone = 'unknown';
  let text = 'Checking core…';
  let detail = '';
  if (error) {
    tone = 'down';
    text = 'Core unreachable';
    detail = error.message;
  } else if (data?.status === 'ready') {
    tone = 'ok';
    text = 'Core ready';
  } else if (data) {
    tone = 'warn';
    text = 'Core not ready';
    detail = Object.entries(data.checks)
      .filter(([, v]) => v !== 'ok' && v !== 'skipped')
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ');
  }
  return (
    <span className={`core-status core-${tone}`} role="status" title={detail || undefined} data-testid="core-status">
      <span className="badge-dot" aria-hidden="true" />
      {text}
      {detail && <span className="visually-hidden">: {detail}</span>}
    </span>
  );
}
