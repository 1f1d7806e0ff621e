import type { Command } from '../../api/generated/model';

/**
 * A one-line reading of a command's result object (the agent's last result message): its text
 * fields when it has some, "pong" for a ping's {pong: true}, else the object as compact JSON.
 */
export function describeResult(command: Command | undefined): string {
  const r = command?.result as Record<string, unknown> | null | undefined;
  if (!r) return '';
  for (const field of ['output', 'error', 'message'] as const) {
    const v = r[field];
    if (typeof v === 'string' && v) return v;
  }
  if (r.pong === true) return 'pong';
  const json = JSON.stringify(r);
  return json.length > 200 ? `${json.slice(0, 199)}…` : json;
}
