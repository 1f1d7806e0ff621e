// Value formatters for the units the agent reports (bytes, bytes/s, percent, plain numbers).

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

function trimDigits(value: number, digits: number): string {
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(digits).replace(/\.?0+$/, '');
}

/** 1536 -> "1.5 KiB", 0 -> "0 B"; binary (1024) steps, at most `digits` decimals. */
export function formatBytes(bytes: number, digits = 1): string {
  if (!Number.isFinite(bytes)) return '–';
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  // 1023.96 KiB would print as "1024 KiB": move up one unit instead.
  if (i < BYTE_UNITS.length - 1 && Number(v.toFixed(digits)) >= 1024) {
    v /= 1024;
    i++;
  }
  return `${sign}${trimDigits(i === 0 ? Math.round(v) : v, digits)} ${BYTE_UNITS[i]}`;
}

export function formatBytesPerSecond(bytesPerSecond: number, digits = 1): string {
  if (!Number.isFinite(bytesPerSecond)) return '–';
  return `${formatBytes(bytesPerSecond, digits)}/s`;
}

/** 12.345 -> "12.3%". */
export function formatPercent(pct: number, digits = 1): string {
  if (!Number.isFinite(pct)) return '–';
  return `${trimDigits(Number(pct.toFixed(digits)), digits)}%`;
}

/** Plain numbers (load averages): at most `digits` decimals, no trailing zeros. */
export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return '–';
  return trimDigits(Number(value.toFixed(digits)), digits);
}

/** An integer with thousands separators that do not depend on the browser's locale. */
export function formatInteger(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
