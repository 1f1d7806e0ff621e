import { useCallback, useEffect, useRef, useState } from 'react';
import { getCommand, sendAgentCommand } from '../../api/generated/core';
import type { Command } from '../../api/generated/model';

export type PingPhase = 'idle' | 'sending' | 'waiting' | 'done' | 'timeout' | 'error';

export interface PingState {
  phase: PingPhase;
  command?: Command;
  /** Milliseconds from the click to the answer that ended the wait. */
  elapsedMs?: number;
  error?: string;
}

/** Statuses after which a command never changes again. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'expired']);

export interface PingOptions {
  pollMs?: number;
  /** Give up waiting after this long (the core's own deadline is 60 s). */
  timeoutMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(id);
        reject(new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });
}

/**
 * Sends a ping command to the agent and polls GET /api/v1/commands/{id} until the core reports a
 * final status or `timeoutMs` passes. A new ping, or unmounting, abandons the previous one.
 */
export function usePingCommand(agentId: string, opts: PingOptions = {}): [PingState, () => void] {
  const pollMs = opts.pollMs ?? 1_000;
  const timeoutMs = opts.timeoutMs ?? 65_000;
  const [state, setState] = useState<PingState>({ phase: 'idle' });
  const ctrlRef = useRef<AbortController | null>(null);

  useEffect(() => () => ctrlRef.current?.abort(), []);

  const ping = useCallback(() => {
    ctrlRef.current?.abort();
    const ctrl = new AbortController();
    ctrlRef.current = ctrl;
    const { signal } = ctrl;
    const started = Date.now();

    const run = async () => {
      setState({ phase: 'sending' });
      const { command_id } = await sendAgentCommand(
        encodeURIComponent(agentId),
        { type: 'ping', payload: {} },
        { signal },
      );
      setState({ phase: 'waiting' });
      for (;;) {
        const command = await getCommand(encodeURIComponent(command_id), { signal });
        if (signal.aborted) return;
        if (FINAL_STATUSES.has(command.status)) {
          setState({ phase: 'done', command, elapsedMs: Date.now() - started });
          return;
        }
        if (Date.now() - started >= timeoutMs) {
          setState({ phase: 'timeout', command, elapsedMs: Date.now() - started });
          return;
        }
        setState({ phase: 'waiting', command });
        await sleep(pollMs, signal);
      }
    };

    run().catch((err: unknown) => {
      if (signal.aborted) return;
      setState({ phase: 'error', error: err instanceof Error ? err.message : String(err) });
    });
  }, [agentId, pollMs, timeoutMs]);

  return [state, ping];
}
