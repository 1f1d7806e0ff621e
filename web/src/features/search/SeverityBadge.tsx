import { severityOf } from './columns';

interface SeverityBadgeProps {
  severity: unknown;
  /** The source's own word ("Warning", "err"), shown as a tooltip. */
  sourceText?: string;
}

/** The normalized severity as a coloured pill; the word is visible text. */
export function SeverityBadge({ severity, sourceText }: SeverityBadgeProps) {
  const s = severityOf(severity);
  return (
    <span
      className={`badge sev sev-${s}`}
      data-severity={s}
      title={sourceText ? `${s} (source: ${sourceText})` : undefined}
    >
      {s}
    </span>
  );
}
