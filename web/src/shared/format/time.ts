// Time formatters: relative "last seen" times and chart axis labels.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function toMs(t: string | number | Date): number {
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return Date.parse(t);
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 5 s" for a clock that runs ahead. */
export function formatRelativeTime(t: string | number | Date, nowMs: number = Date.now()): string {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return 'never';
  const delta = nowMs - ms;
  const abs = Math.abs(delta);
  let text: string;
  if (abs < 5_000) return 'just now';
  if (abs < MINUTE) text = `${Math.floor(abs / 1000)} s`;
  else if (abs < HOUR) text = `${Math.floor(abs / MINUTE)} min`;
  else if (abs < DAY) text = `${Math.floor(abs / HOUR)} h`;
  else text = `${Math.floor(abs / DAY)} d`;
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Axis label in local time: "14:05", or "14:05:30" when `seconds`. */
export function formatClock(ms: number, seconds = false): string {
  const d = new Date(ms);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return seconds ? `${hm}:${pad2(d.getSeconds())}` : hm;
}

/** Full local date and time for titles and tooltips: "2026-05-01 14:05:30". */
export function formatDateTime(t: string | number | Date): string {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms, true)}`;
}
