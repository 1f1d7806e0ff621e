import { describe, expect, it } from 'vitest';
import type { Command } from '../../api/generated/model';
import { describeResult } from './commandResult';

const base: Command = {
  command_id: 'c',
  agent_id: 'a',
  type: 'ping',
  payload: {},
  status: 'succeeded',
  issued_at: '',
  deadline_at: '',
  updated_at: null,
  result: null,
};

describe('describeResult', () => {
  it('reads the result the agent sent', () => {
    expect(describeResult(undefined)).toBe('');
    expect(describeResult(base)).toBe('');
    expect(describeResult({ ...base, result: { ok: true, output: 'pong 3 ms' } })).toBe('pong 3 ms');
    expect(describeResult({ ...base, result: { ok: false, error: 'unknown command' } })).toBe('unknown command');
    expect(describeResult({ ...base, result: { pong: true, time_unix_ms: 1 } })).toBe('pong');
    expect(describeResult({ ...base, result: { ok: true } })).toBe('{"ok":true}');
  });
});
