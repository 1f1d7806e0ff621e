import { describeResult } from './commandResult';
import { usePingCommand, type PingState } from './usePingCommand';

interface PingButtonProps {
  agentId: string;
  disabled?: boolean;
}

function statusText(s: PingState): string {
  switch (s.phase) {
    case 'idle':
      return '';
    case 'sending':
      return 'Sending ping…';
    case 'waiting':
      return `Waiting for the agent… (${s.command?.status ?? 'queued'})`;
    case 'done': {
      const status = s.command?.status ?? 'done';
      const detail = describeResult(s.command);
      return `Ping ${status} in ${s.elapsedMs ?? 0} ms${detail ? `: ${detail}` : ''}`;
    }
    case 'timeout':
      return `No answer after ${Math.round((s.elapsedMs ?? 0) / 1000)} s (status ${s.command?.status ?? 'unknown'})`;
    case 'error':
      return `Ping failed: ${s.error ?? 'unknown error'}`;
  }
}

/** Sends a ping command and shows its result when the core reports it. */
export function PingButton({ agentId, disabled }: PingButtonProps) {
  const [state, ping] = usePingCommand(agentId);
  const busy = state.phase === 'sending' || state.phase === 'waiting';
  const ok = state.phase === 'done' && state.command?.status === 'succeeded';
  const failed = state.phase === 'timeout' || state.phase === 'error' || (state.phase === 'done' && !ok);
  const tone = ok ? ' ping-ok' : failed ? ' ping-bad' : '';
  const text = statusText(state);
  return (
    <div className="ping">
      <button
        type="button"
        className="button"
        onClick={ping}
        disabled={busy || disabled}
        title={disabled ? 'The agent is offline' : undefined}
        data-testid="ping-button"
      >
        {busy ? 'Pinging…' : 'Ping agent'}
      </button>
      <span
        className={`ping-result${tone}`}
        role="status"
        aria-live="polite"
        data-testid="ping-result"
        data-phase={state.phase}
        data-command-status={state.command?.status ?? ''}
      >
        {text}
      </span>
    </div>
  );
}
