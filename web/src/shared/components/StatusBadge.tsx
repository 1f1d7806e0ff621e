interface StatusBadgeProps {
  status: string;
}

/** "online" / "offline" pill; the word is visible text, the dot is decoration. */
export function StatusBadge({ status }: StatusBadgeProps) {
  const known = status === 'online' || status === 'offline';
  return (
    <span className={`badge badge-${known ? status : 'unknown'}`} data-status={status}>
      <span className="badge-dot" aria-hidden="true" />
      <span className="visually-hidden">Status: </span>
      {status || 'unknown'}
    </span>
  );
}
