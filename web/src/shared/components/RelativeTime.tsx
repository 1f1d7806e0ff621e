import { formatDateTime, formatRelativeTime } from '../format/time';

interface RelativeTimeProps {
  value: string | null | undefined;
  now: number;
}

/** "12 s ago" in a <time> element carrying the exact instant. */
export function RelativeTime({ value, now }: RelativeTimeProps) {
  if (!value) return <span className="muted">never</span>;
  return (
    <time dateTime={value} title={formatDateTime(value)}>
      {formatRelativeTime(value, now)}
    </time>
  );
}
