import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { usePingCommand } from './usePingCommand';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function command(status: string, result: unknown = null) {
  return {
    command_id: 'c1',
    agent_id: 'a1',
    type: 'ping',
    payload: {},
    status,
    issued_at: '2026-05-01T12:00:00Z',
    deadline_at: '2026-05-01T12:01:00Z',
    updated_at: null,
    result,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('usePingCommand', () => {
  it('posts a ping and polls the command until it succeeds', async () => {
    const answers = [command('pending'), command('acked'), command('succeeded', { ok: true, output: 'pong' })];
    const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
      if (init?.method === 'POST') return json(202, { command_id: 'c1' });
      expect(url).toBe('/api/v1/commands/c1');
      return json(200, answers.shift());
    });
    vi.stubGlobal('fetch', fetchMock);

    const { result } = renderHook(() => usePingCommand('a1', { pollMs: 1000 }));
    act(() => result.current[1]());
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current[0].phase).toBe('waiting');

    const [postUrl, postInit] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(postUrl).toBe('/api/v1/agents/a1/commands');
    expect(JSON.parse(String(postInit.body))).toEqual({ type: 'ping', payload: {} });

    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(result.current[0].phase).toBe('done');
    expect(result.current[0].command?.status).toBe('succeeded');
  });

  it('gives up after the timeout', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init?: RequestInit) =>
        init?.method === 'POST' ? json(202, { command_id: 'c1' }) : json(200, command('pending')),
      ),
    );
    const { result } = renderHook(() => usePingCommand('a1', { pollMs: 1000, timeoutMs: 5000 }));
    act(() => result.current[1]());
    await act(() => vi.advanceTimersByTimeAsync(6000));
    expect(result.current[0].phase).toBe('timeout');
  });

  it('reports a refused command', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => json(503, { error: { code: 'unavailable', message: 'nats is not connected' } })),
    );
    const { result } = renderHook(() => usePingCommand('a1'));
    act(() => result.current[1]());
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current[0]).toMatchObject({ phase: 'error', error: 'nats is not connected' });
  });
});
